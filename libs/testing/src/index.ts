export * from './tcp-proxy';
export * from './database';
export * from './nats';
export * from './commands';
