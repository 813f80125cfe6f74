import { AsyncLocalStorage } from 'node:async_hooks';
import { Inject, Injectable } from '@nestjs/common';
import { PG_POOL } from '@cronicorn/platform';
import type { Pool, PoolClient } from 'pg';

interface Ambient {
  client: PoolClient;
  savepoints: number;
}

/**
 * The request's ambient Postgres transaction. The idempotency interceptor opens one around a
 * POST; everything that writes during that request (the executor's appends, inline tables
 * such as `api_keys`, the stored answer) joins it, so the answer and its events commit
 * together or not at all.
 */
@Injectable()
export class TransactionContext {
  private readonly storage = new AsyncLocalStorage<Ambient>();
  private readonly permits: Semaphore;

  constructor(@Inject(PG_POOL) private readonly pool: Pool) {
    // A request in a transaction holds one connection and still reads through the pool (the
    // event store, read models). Were every connection held by such a request, each would
    // wait for a free one forever: keep half of the pool free for those reads.
    this.permits = new Semaphore(Math.max(1, Math.floor((pool.options.max ?? 10) / 2)));
  }

  /** The ambient transaction's connection, if a caller opened one. */
  get client(): PoolClient | undefined {
    return this.storage.getStore()?.client;
  }

  /** Opens a transaction and makes it ambient for everything `fn` awaits. */
  async begin<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const release = await this.permits.acquire();
    try {
      return await this.transaction(fn);
    } finally {
      release();
    }
  }

  private async transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await this.storage.run({ client, savepoints: 0 }, () => fn(client));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /**
   * Runs `fn` as one unit: inside the ambient transaction behind a savepoint (a failure undoes
   * only `fn`, and the caller may retry), or in a transaction of its own.
   */
  async run<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const ambient = this.storage.getStore();
    if (!ambient) return this.begin(fn);
    const name = `sp_${++ambient.savepoints}`;
    await ambient.client.query(`SAVEPOINT ${name}`);
    try {
      const result = await fn(ambient.client);
      await ambient.client.query(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (error) {
      await ambient.client.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
      throw error;
    }
  }

  /** A query on the ambient connection when there is one, else on the pool. */
  queryable(): Pool | PoolClient {
    return this.client ?? this.pool;
  }
}

/** A counting semaphore; waiters are served in arrival order. */
class Semaphore {
  private readonly waiting: (() => void)[] = [];

  constructor(private available: number) {}

  async acquire(): Promise<() => void> {
    if (this.available > 0) this.available--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.available++;
    };
  }
}
