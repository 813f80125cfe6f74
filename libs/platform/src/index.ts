export * from './clock';
export * from './config';
export * from './database';
export * from './migrations';
export * from './secrets';
export * from './runtime';
