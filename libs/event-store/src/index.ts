export * from './event-store';
export * from './errors';
export * from './postgres-event-store';
export * from './group-commit-appender';
