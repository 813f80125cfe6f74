export * from './tcp-proxy';
export * from './database';
export * from './nats';
