import { randomUUID } from 'node:crypto';
import { EventEnvelope, RunStatus, RunTrigger } from '@cronicorn/events';
import { createTestDatabase, TestDatabase } from '@cronicorn/testing';
import { AnalysisQueue } from './analysis-queue';

jest.setTimeout(30_000);

const INTERVAL_MS = 60_000;
const now = new Date('2026-12-07T10:00:00.000Z');

let position = 1000;
function runFinished(
  endpointId: string,
  status: RunStatus,
  finishedAtSeconds: number,
  trigger: RunTrigger = 'schedule',
): EventEnvelope {
  const runId = randomUUID();
  position += 1;
  return {
    id: randomUUID(),
    type: 'RunFinished',
    schemaVersion: 1,
    streamId: `run-${runId}`,
    streamVersion: 2,
    position: String(position),
    tenantId: 'tenant-1',
    occurredAt: now.toISOString(),
    data: {
      runId,
      endpointId,
      status,
      trigger,
      finishedAt: new Date(now.getTime() + finishedAtSeconds * 1000).toISOString(),
    },
    metadata: { tenantId: 'tenant-1', correlationId: `corr-${position}` },
  } as unknown as EventEnvelope;
}

/** The same runs for another endpoint: same statuses, triggers and times, new ids. */
function sameRunsFor(endpointId: string, events: EventEnvelope[]): EventEnvelope[] {
  return events.map((e) => {
    const data = e.data as { status: RunStatus; trigger: RunTrigger; finishedAt: string };
    return runFinished(
      endpointId,
      data.status,
      (Date.parse(data.finishedAt) - now.getTime()) / 1000,
      data.trigger,
    );
  });
}

describe('AnalysisQueue.recordRunsFinished', () => {
  let db: TestDatabase;
  let queue: AnalysisQueue;

  beforeAll(async () => {
    db = await createTestDatabase();
    queue = new AnalysisQueue(db.pool, 'test-owner', INTERVAL_MS, 30_000);
  });
  afterAll(() => db.drop());

  async function inTransaction(events: readonly EventEnvelope[]): Promise<void> {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await queue.recordRunsFinished(client, events, now);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }

  async function rowOf(endpointId: string) {
    const { rows } = await db.pool.query(
      `SELECT due_at, requests, failure_streak, last_finished_at, run_position::text AS run_position
         FROM ai_planner_endpoints WHERE endpoint_id = $1`,
      [endpointId],
    );
    return rows[0];
  }

  it('should fold a batch like its runs one transaction each, per endpoint, ignoring other events', async () => {
    const runs = (endpointId: string) => [
      runFinished(endpointId, 'failed', 1),
      runFinished(endpointId, 'failed', 2),
      runFinished(endpointId, 'success', 3),
      runFinished(endpointId, 'failed', 4),
      runFinished(endpointId, 'failed', 4.5),
      // Finished before the newest one seen: arrives late, leaves the streak alone.
      runFinished(endpointId, 'success', 0),
      runFinished(endpointId, 'failed', 5, 'trigger'),
    ];
    const batched = runs('ep-batched');
    const other = runs('ep-other');
    const started = {
      ...batched[0],
      id: randomUUID(),
      type: 'RunStarted',
      streamVersion: 1,
    } as EventEnvelope;
    // Interleaved in the batch, as two endpoints' runs arrive.
    await inTransaction(batched.flatMap((event, i) => [event, other[i]]).concat(started));

    const alone = sameRunsFor('ep-alone', batched);
    for (const event of alone) await inTransaction([event]);

    const expected = await rowOf('ep-alone');
    expect(expected).toMatchObject({ requests: '7', failure_streak: 2 });
    expect({ ...(await rowOf('ep-batched')), run_position: null }).toEqual({
      ...expected,
      run_position: null,
    });
    expect(await rowOf('ep-batched')).toMatchObject({
      run_position: String(Math.max(...batched.map((e) => Number(e.position)))),
    });
    expect((await rowOf('ep-other')).failure_streak).toBe(2);
  });

  it('should add a batch to what the row already holds', async () => {
    await inTransaction([runFinished('ep-twice', 'failed', 1)]);
    await inTransaction([runFinished('ep-twice', 'failed', 2), runFinished('ep-twice', 'failed', 3)]);
    expect(await rowOf('ep-twice')).toMatchObject({ requests: '3', failure_streak: 3 });
  });

  it('should write nothing for a batch without finished runs', async () => {
    const started = { ...runFinished('ep-none', 'success', 1), type: 'RunStarted' } as EventEnvelope;
    await inTransaction([started]);
    expect(await rowOf('ep-none')).toBeUndefined();
  });
});
