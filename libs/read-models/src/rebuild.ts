import { EventStore, LOG_START, LogCheckpoint } from '@cronicorn/event-store';
import { withTransaction } from '@cronicorn/platform';
import type { Pool } from 'pg';
import { PROJECTOR_CONSUMER } from './progress';
import { releaseProjectorLock, takeProjectorLock } from './projector-lock';
import { projectLogPage, READ_MODEL_TABLES } from './read-models';

export interface RebuildProgress {
  /** Events read from the log so far. */
  done: number;
  /** Events in the log when the rebuild started (grows if `done` passes it). */
  total: number;
  eventsPerSecond: number;
  elapsedMs: number;
}

export interface RebuildSummary {
  /** Events read from the log. */
  events: number;
  /** Events that changed a read model (the others have no projection). */
  applied: number;
  elapsedMs: number;
  eventsPerSecond: number;
  /** Rows per read-model table after the rebuild. */
  rows: Record<string, number>;
  /** Where the live projector's sweep continues from. */
  checkpoint: LogCheckpoint;
}

export interface RebuildOptions {
  pool: Pool;
  store: Pick<EventStore, 'readAll' | 'readStream'>;
  /** Events per read and per transaction. Default 500. */
  batchSize?: number;
  /** The live projector's consumer name. Default `projector`. */
  consumer?: string;
  /** How long to wait for a live projector to step down. Default 30 s. */
  lockWaitMs?: number;
  /** Called after each batch. */
  onProgress?: (progress: RebuildProgress) => void;
  /** Human-readable steps ("waiting for the live projector to step down"). */
  onLog?: (message: string) => void;
}

/**
 * Rebuilds every read model from the event log.
 *
 * 1. Takes the projector lock: a live projector is asked to step down (it stops consuming
 *    and stands by) and standby replicas stay out; throws `ProjectorLockBusyError` if the
 *    holder does not let go within `lockWaitMs`.
 * 2. Empties the `rm_*` tables and moves the projector's checkpoint back to the log's start.
 * 3. Replays the log with `readAll` in commit order, one transaction per batch, as the live
 *    projector applies it (`projectLogPage`), and leaves the projector's checkpoint at its
 *    end, so the projector resumes exactly after the rebuilt state.
 * 4. Releases the lock; a projector takes over and applies whatever was appended meanwhile.
 *
 * The read models are incomplete while it runs (GETs see them fill up). Batches are short
 * transactions so the log's readers (relay, sweeps) are held back only briefly.
 */
export async function rebuildReadModels(options: RebuildOptions): Promise<RebuildSummary> {
  const { pool, store } = options;
  const consumer = options.consumer ?? PROJECTOR_CONSUMER;
  const batchSize = options.batchSize ?? 500;
  const log = options.onLog ?? (() => undefined);
  const lockClient = await pool.connect();
  let broken: Error | undefined;
  const onError = (error: Error) => (broken = error);
  lockClient.on('error', onError);
  try {
    const waitMs = options.lockWaitMs ?? 30_000;
    await takeProjectorLock(lockClient, pool, {
      waitMs,
      onWait: () => log(`a projector is running; asking it to step down (waiting up to ${waitMs} ms)`),
    });
    log('holding the projector lock; projectors stand by until the rebuild ends');
    try {
      const started = Date.now();
      const { rows } = await pool.query<{ total: string }>('SELECT count(*) AS total FROM events');
      let total = Number(rows[0].total);
      await withTransaction(pool, async (client) => {
        await client.query(`TRUNCATE ${READ_MODEL_TABLES.join(', ')}`);
        // Moved back to the start, not deleted: a deposed projector still in a step moves the
        // checkpoint only from where it found it, and a missing row would let it insert its own.
        await setCheckpoint(client, consumer, LOG_START);
      });
      log(`emptied ${READ_MODEL_TABLES.join(', ')}; replaying ${total} events`);

      let checkpoint = LOG_START;
      let done = 0;
      let applied = 0;
      for (;;) {
        if (broken) throw new Error(`lost the projector lock connection: ${broken.message}`);
        const page = await store.readAll(checkpoint, { limit: batchSize });
        if (page.events.length > 0) {
          applied += await withTransaction(
            pool,
            async (client) => (await projectLogPage(page.events, client, store)).length,
          ).catch((error: unknown) => {
            const positions = `${page.events[0].position}..${page.events[page.events.length - 1].position}`;
            throw new Error(
              `could not apply the events at positions ${positions} (after ${done} events): ` +
                `${error instanceof Error ? error.message : String(error)}. A running projector completes ` +
                'the read models from the log; or fix the cause and run the rebuild again',
              { cause: error },
            );
          });
          done += page.events.length;
        }
        checkpoint = page.checkpoint;
        total = Math.max(total, done);
        const elapsedMs = Date.now() - started;
        options.onProgress?.({ done, total, elapsedMs, eventsPerSecond: rate(done, elapsedMs) });
        if (!page.more) break;
        // A dead lock session would let a projector start writing under us.
        await lockClient.query('SELECT 1');
      }
      await setCheckpoint(pool, consumer, checkpoint);
      const elapsedMs = Date.now() - started;
      return {
        events: done,
        applied,
        elapsedMs,
        eventsPerSecond: rate(done, elapsedMs),
        rows: await countRows(pool),
        checkpoint,
      };
    } finally {
      await releaseProjectorLock(lockClient).catch((error: Error) => (broken ??= error));
    }
  } finally {
    lockClient.off('error', onError);
    lockClient.release(broken ?? false);
  }
}

async function countRows(pool: Pool): Promise<Record<string, number>> {
  const rows: Record<string, number> = {};
  for (const table of READ_MODEL_TABLES) {
    const result = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
    rows[table] = Number(result.rows[0].n);
  }
  return rows;
}

const rate = (events: number, ms: number) => (ms > 0 ? Math.round((events * 1000) / ms) : events);

function setCheckpoint(db: Pick<Pool, 'query'>, consumer: string, checkpoint: LogCheckpoint) {
  return db.query(
    `INSERT INTO consumer_checkpoints (consumer, transaction_id, position) VALUES ($1, $2, $3)
     ON CONFLICT (consumer) DO UPDATE
       SET transaction_id = EXCLUDED.transaction_id, position = EXCLUDED.position, updated_at = now()`,
    [consumer, checkpoint.transactionId, checkpoint.position],
  );
}
