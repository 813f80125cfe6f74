export * from './cron';
export * from './governor.types';
export { planNextRun } from './governor';
export { jitterOffsetMs } from './jitter';
export * from './overlap';
export * from './presets';
