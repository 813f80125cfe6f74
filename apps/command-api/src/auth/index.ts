export * from './auth-context';
export * from './auth.decorators';
export * from './api-key.guard';
export * from './api-key.repository';
export * from './api-key.strategy';
export * from './auth.module';
export * from './rate-limiter';
