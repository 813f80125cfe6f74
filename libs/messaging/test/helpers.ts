import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream';
import type { Pool } from 'pg';
import type { EventEnvelope } from '@cronicorn/events';
import { LOG_START, LogCheckpoint } from '@cronicorn/event-store';

export const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await delay(20);
  }
}

/** Every message still in `stream`, in sequence order (deleted ones are skipped). */
export async function storedMessages(jsm: JetStreamManager, stream: string): Promise<StoredMsg[]> {
  const { state } = await jsm.streams.info(stream);
  const out: StoredMsg[] = [];
  if (state.messages === 0) return out;
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (msg) out.push(msg);
  }
  return out;
}

export const envelopeOf = (msg: StoredMsg) => msg.json<EventEnvelope>();

const repoRoot = join(__dirname, '..', '..', '..');

/** Runs a TypeScript fixture in its own Node process (tsx resolves the @cronicorn aliases). */
export function runFixture(name: string, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', name)], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Resolves with the first stdout line that starts with `prefix`; rejects if the process exits first. */
export function lineFrom(child: ChildProcess, prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const line = buffer.split('\n').find((l) => l.startsWith(prefix));
      if (line) resolve(line.slice(prefix.length).trim());
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`fixture exited (${code ?? signal}) before "${prefix}": ${stderr}`)),
    );
  });
}

export function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/**
 * The checkpoint of the newest committed event. Not `store.headCheckpoint()`: the head stays
 * behind any transaction in flight anywhere on the server (other suites share it), so it can
 * lag behind events this suite already committed.
 */
export async function latestCheckpoint(pool: Pool): Promise<LogCheckpoint> {
  const { rows } = await pool.query<{ transaction_id: string; position: string }>(
    `SELECT transaction_id::text AS transaction_id, position::text AS position FROM events
      ORDER BY events.transaction_id DESC, events.position DESC LIMIT 1`,
  );
  return rows.length ? { transactionId: rows[0].transaction_id, position: rows[0].position } : LOG_START;
}

/** Waits until the checkpoint row selected by `sql` (one row: transaction_id, position) has passed `event`. */
export async function waitForCheckpointPast(
  pool: Pool,
  sql: string,
  params: unknown[],
  event: { id: string },
) {
  await waitFor(async () => {
    const { rows } = await pool.query<{ past: boolean }>(
      `SELECT (c.transaction_id, c.position) >= (e.transaction_id::text::bigint, e.position) AS past
         FROM (${sql}) c, events e WHERE e.event_id = $${params.length + 1}`,
      [...params, event.id],
    );
    return rows[0]?.past === true;
  }, `a checkpoint past event ${event.id}`);
}
