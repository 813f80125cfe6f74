import type { PoolClient } from 'pg';
import { withTimeout } from './backoff';

/**
 * Proves the session holding a lock is alive; throws when it fails or does not answer within
 * `timeoutMs` (a silent connection would leave the query waiting forever, its holder a false
 * leader). The caller then destroys the session.
 */
export async function proveLockSession(client: PoolClient, timeoutMs: number, what: string): Promise<void> {
  await withTimeout(client.query('SELECT 1'), timeoutMs, `${what} lock check`);
}
