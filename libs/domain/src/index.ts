export * from './core/decider';
export * from './core/errors';
