/** The app's `CronicornConfig` (read once from the environment at startup). */
export const CONFIG = Symbol('CONFIG');
/** The app's name (`AppName`). */
export const APP_NAME = Symbol('APP_NAME');
/** A `pg.Pool` on `DATABASE_URL`; usable at once, queries fail while Postgres is away. */
export const PG_POOL = Symbol('PG_POOL');
/** The `PostgresEventStore` on `PG_POOL`. */
export const EVENT_STORE = Symbol('EVENT_STORE');
/** The `NatsRuntime`: `await nats.ready` gives the connection and JetStream clients. */
export const NATS = Symbol('NATS');
/** The prom-client `Registry` served on `/metrics`; register app metrics on it. */
export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');
