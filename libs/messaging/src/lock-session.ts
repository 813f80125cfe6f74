import type { PoolClient } from 'pg';
import { withTimeout } from './backoff';
import { errorFields, MessagingLogger } from './logger';

/**
 * Makes the server notice within seconds that the host holding this session vanished (power
 * loss, partition): Postgres otherwise keeps the session, and the advisory lock it holds, for
 * the OS keepalive time, two hours on Linux, and no standby can take over meanwhile.
 */
export async function shortenLockSessionKeepalives(
  client: PoolClient,
  logger: MessagingLogger,
  fields: Record<string, unknown>,
): Promise<void> {
  await client
    .query(
      `SELECT set_config('tcp_keepalives_idle', '10', false), set_config('tcp_keepalives_interval', '5', false),
              set_config('tcp_keepalives_count', '3', false), set_config('tcp_user_timeout', '25000', false)`,
    )
    .catch((err: Error) => logger.warn({ ...fields, ...errorFields(err) }, 'cannot set TCP keepalives'));
}

/**
 * Proves the session holding a lock is alive; throws when it fails or does not answer within
 * `timeoutMs` (a silent connection would leave the query waiting forever, its holder a false
 * leader). The caller then destroys the session.
 */
export async function proveLockSession(client: PoolClient, timeoutMs: number, what: string): Promise<void> {
  await withTimeout(client.query('SELECT 1'), timeoutMs, `${what} lock check`);
}
