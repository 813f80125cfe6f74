import type { EventStore, LogCheckpoint } from '@cronicorn/event-store';

const POLL_MS = 25;

function atOrAfter(a: LogCheckpoint, b: LogCheckpoint): boolean {
  const byTransaction = BigInt(a.transactionId) - BigInt(b.transactionId);
  return byTransaction !== 0n ? byTransaction > 0n : BigInt(a.position) >= BigInt(b.position);
}

/**
 * Waits until `readAll` can return the event at `position`: it exists and every transaction
 * that could commit before it in log order has ended. True when it can, false on timeout.
 */
export async function waitForLogPosition(
  store: EventStore,
  position: string,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const checkpoint = await store.checkpointOfPosition(position);
    if (checkpoint && atOrAfter(await store.headCheckpoint(), checkpoint)) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, left)));
  }
}
