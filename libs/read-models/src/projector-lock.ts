import type { Pool, PoolClient } from 'pg';

/**
 * One projector writes the read models at a time: it holds this session advisory lock on a
 * dedicated connection. A rebuild takes the same lock, after asking the holder to step down
 * with a NOTIFY on {@link PROJECTOR_CONTROL_CHANNEL}.
 */
export const PROJECTOR_LOCK = 'cronicorn.projector';
export const PROJECTOR_CONTROL_CHANNEL = 'cronicorn_projector';
export const STEP_DOWN = 'step-down';

/** Another process held the projector lock and did not give it up in time. */
export class ProjectorLockBusyError extends Error {
  readonly code = 'READ_MODELS.PROJECTOR_LOCK_BUSY';

  constructor(waitedMs: number) {
    super(
      `A projector holds the read-model lock and did not step down within ${waitedMs} ms. ` +
        'Stop the projector apps (or another rebuild) and run the rebuild again.',
    );
    this.name = 'ProjectorLockBusyError';
  }
}

const LOCK_NOT_AVAILABLE = '55P03';

/** `pg_try_advisory_lock` on the projector lock: true when this session now holds it. */
export async function tryProjectorLock(client: PoolClient): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>(
    'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked',
    [PROJECTOR_LOCK],
  );
  return rows[0].locked;
}

export async function releaseProjectorLock(client: PoolClient): Promise<void> {
  await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [PROJECTOR_LOCK]);
}

/**
 * Takes the projector lock on `client`. When a projector holds it, queues for the lock (so
 * no standby replica can slip in between) and asks the holder to step down, repeating the
 * request every `notifyEveryMs` until the lock is granted or `waitMs` passes.
 */
export async function takeProjectorLock(
  client: PoolClient,
  pool: Pool,
  options: { waitMs: number; notifyEveryMs?: number; onWait?: () => void },
): Promise<void> {
  if (await tryProjectorLock(client)) return;
  options.onWait?.();
  await client.query(`SELECT set_config('lock_timeout', $1, false)`, [`${Math.max(1, options.waitMs)}ms`]);
  let settled = false;
  const lock = client
    .query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [PROJECTOR_LOCK])
    .finally(() => (settled = true));
  const lockSettled = lock.then(
    () => undefined,
    () => undefined,
  );
  const every = options.notifyEveryMs ?? 1_000;
  const nagging = (async () => {
    while (!settled) {
      await pool
        .query('SELECT pg_notify($1, $2)', [PROJECTOR_CONTROL_CHANNEL, STEP_DOWN])
        .catch(() => undefined);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, every);
        void lockSettled.then(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  })();
  try {
    await lock;
  } catch (error) {
    if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE)
      throw new ProjectorLockBusyError(options.waitMs);
    throw error;
  } finally {
    await nagging;
    await client.query(`SELECT set_config('lock_timeout', '0', false)`).catch(() => undefined);
  }
}
