import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '@cronicorn/messaging';
import { SecretBox } from '@cronicorn/platform';
import { createTestDatabase, TestDatabase } from '@cronicorn/testing';
import { HttpExecutor } from '../http/http-executor';
import { TargetGuard } from '../http/target-guard';
import { WebhookDeliveryLoop, WebhookDeliveryLoopOptions } from './webhook-delivery-loop';

// The delivery loop alone, on its own database, with rows written directly: no command-api,
// no NATS. The receiver listens on loopback and answers after `delayMs`.

jest.setTimeout(30_000);

describe('WebhookDeliveryLoop', () => {
  const secretBox = SecretBox.fromSecret(randomBytes(32).toString('base64url'));
  let db: TestDatabase;
  let server: Server;
  let hits: string[];
  /** Event ids in the order their answers were sent. */
  let answered: string[];
  let delayMs: number;
  /** Most requests in flight at once, per path. */
  let peakInFlight: Map<string, number>;
  let failing: boolean;
  const executors: HttpExecutor[] = [];

  const loop = (
    owner: string,
    settings: Partial<WebhookDeliveryLoopOptions['settings']> = {},
    metrics?: WebhookDeliveryLoopOptions['metrics'],
  ) => {
    const executor = new HttpExecutor(
      new TargetGuard({ allowPrivateTargets: false, allowedAddresses: ['127.0.0.1'] }),
      { maxRedirects: 0, userAgent: 'cronicorn-webhooks/1' },
    );
    executors.push(executor);
    return new WebhookDeliveryLoop({
      pool: db.pool,
      executor,
      secretBox,
      owner,
      logger: silentLogger,
      metrics,
      settings: {
        timeoutMs: 5_000,
        maxAttempts: 3,
        backoffMs: [200],
        jitter: 0,
        maxRetryAfterMs: 1_000,
        concurrency: 4,
        concurrencyPerSubscription: 4,
        circuitFailures: 100,
        circuitCooloffMs: 30_000,
        circuitMaxCooloffMs: 300_000,
        leaseMs: 60_000,
        pollMs: 50,
        retentionMs: 7 * 24 * 3_600_000,
        ...settings,
      },
    });
  };

  const subscription = async (path = '/hook'): Promise<string> => {
    const id = randomUUID();
    const { port } = server.address() as AddressInfo;
    await db.pool.query(
      `INSERT INTO webhook_subscriptions
         (subscription_id, tenant_id, url, event_types, secret, created_at, created_transaction_id, created_position)
       VALUES ($1, $2, $3, '{*}', $4, now(), '1'::xid8, 1)`,
      [id, randomUUID(), `http://127.0.0.1:${port}${path}`, secretBox.encrypt('a-signing-secret-0123456789')],
    );
    return id;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    const inFlight = new Map<string, number>();
    server = createServer((req, res) => {
      const path = req.url ?? '';
      const eventId = String(req.headers['cronicorn-event-id']);
      inFlight.set(path, (inFlight.get(path) ?? 0) + 1);
      peakInFlight.set(path, Math.max(peakInFlight.get(path) ?? 0, inFlight.get(path)!));
      req.resume();
      req.on('end', () => {
        hits.push(eventId);
        const slow = path.startsWith('/slow') ? 1_000 : 0;
        setTimeout(() => {
          inFlight.set(path, inFlight.get(path)! - 1);
          answered.push(eventId);
          res.writeHead(path === '/fail' && failing ? 500 : 200).end('ok');
        }, delayMs + slow);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  beforeEach(() => {
    hits = [];
    answered = [];
    delayMs = 0;
    peakInFlight = new Map();
    failing = true;
  });

  /** Queues `count` deliveries due now for the subscription, the first one oldest; returns their event ids. */
  const queue = async (subscriptionId: string, count: number, dueAgoMs = 0): Promise<string[]> => {
    const ids = Array.from({ length: count }, () => randomUUID());
    await db.pool.query(
      `INSERT INTO webhook_deliveries
         (subscription_id, tenant_id, event_id, event_type, event_position, body, next_attempt_at)
       SELECT $1, 't', id, 'RunFinished', n, '{}', now() - ($3::int - n) * interval '1 millisecond'
         FROM unnest($2::uuid[]) WITH ORDINALITY AS q (id, n)`,
      [subscriptionId, ids, dueAgoMs + count],
    );
    return ids;
  };

  const until = async (condition: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  /** A subscription to `/fail` whose circuit opened after 5 failures, for `interval` more. */
  const suspendedSubscription = async (interval: string): Promise<string> => {
    const subscriptionId = await subscription('/fail');
    await db.pool.query(
      `UPDATE webhook_subscriptions SET consecutive_failures = 5, suspended_until = now() + $2::interval
        WHERE subscription_id = $1`,
      [subscriptionId, interval],
    );
    return subscriptionId;
  };

  const states = async (eventIds: string[]): Promise<string[]> => {
    const { rows } = await db.pool.query<{ state: string }>(
      'SELECT state FROM webhook_deliveries WHERE event_id = ANY($1::uuid[]) ORDER BY event_position',
      [eventIds],
    );
    return rows.map((row) => row.state);
  };

  afterAll(async () => {
    for (const executor of executors) executor.close();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await db?.drop();
  });

  it('should delete every finished delivery past retention, not only the first thousand', async () => {
    const subscriptionId = await subscription();
    await db.pool.query(
      `INSERT INTO webhook_deliveries
         (subscription_id, tenant_id, event_id, event_type, event_position, body, state, attempts, finished_at)
       SELECT $1, 't', gen_random_uuid(), 'RunFinished', n, '{}', 'delivered', 1, now() - interval '8 days'
         FROM generate_series(1, 2500) AS n`,
      [subscriptionId],
    );
    const recent = randomUUID();
    await db.pool.query(
      `INSERT INTO webhook_deliveries
         (subscription_id, tenant_id, event_id, event_type, event_position, body, state, attempts, finished_at)
       VALUES ($1, 't', $2, 'RunFinished', 1, '{}', 'delivered', 1, now() - interval '1 day')`,
      [subscriptionId, recent],
    );

    // One round of the loop: it prunes on its first round, then not for ten minutes.
    const deliveries = loop('pruner');
    deliveries.start();
    await deliveries.stop();

    const { rows } = await db.pool.query<{ event_id: string }>(
      'SELECT event_id FROM webhook_deliveries WHERE subscription_id = $1',
      [subscriptionId],
    );
    expect(rows.map((row) => row.event_id)).toEqual([recent]);
  });

  it('should not let a second replica send a delivery again while the first still waits within the timeout', async () => {
    const subscriptionId = await subscription();
    const eventId = randomUUID();
    await db.pool.query(
      `INSERT INTO webhook_deliveries
         (subscription_id, tenant_id, event_id, event_type, event_position, body, next_attempt_at)
       VALUES ($1, 't', $2, 'RunFinished', 1, '{}', now())`,
      [subscriptionId, eventId],
    );
    // WEBHOOK_TIMEOUT_MS longer than the lease: the receiver answers after 1.2 s, in time.
    delayMs = 1_200;
    const settings = { timeoutMs: 3_000, leaseMs: 300 };
    const first = loop('replica-a', settings);
    const second = loop('replica-b', settings);

    const firstRound = first.deliverDue();
    await new Promise((resolve) => setTimeout(resolve, 600));
    const secondRound = second.deliverDue();
    expect(await Promise.all([firstRound, secondRound])).toEqual([1, 0]);

    expect(hits).toEqual([eventId]);
    const { rows } = await db.pool.query<{ state: string; attempts: number }>(
      'SELECT state, attempts FROM webhook_deliveries WHERE event_id = $1',
      [eventId],
    );
    expect(rows).toEqual([{ state: 'delivered', attempts: 1 }]);
  });

  it('should not return from a round while calls of that round are still in flight, even when recording one failed', async () => {
    const failing = randomUUID();
    const slow = randomUUID();
    const fast = await subscription();
    const slowSubscription = await subscription('/slow');
    // Postgres refuses to record the fast delivery (as during a restart); the slow one is fine.
    await db.pool.query(`
      CREATE FUNCTION refuse_attempt() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'cannot record'; END $$;
      CREATE TRIGGER refuse_attempt BEFORE INSERT ON webhook_delivery_attempts
        FOR EACH ROW WHEN (NEW.event_id = '${failing}') EXECUTE FUNCTION refuse_attempt();`);
    try {
      await db.pool.query(
        `INSERT INTO webhook_deliveries
           (subscription_id, tenant_id, event_id, event_type, event_position, body, next_attempt_at)
         VALUES ($1, 't', $2, 'RunFinished', 1, '{}', now()), ($3, 't', $4, 'RunFinished', 2, '{}', now())`,
        [fast, failing, slowSubscription, slow],
      );
      await expect(loop('replica-c').deliverDue()).rejects.toThrow(/cannot record/);
      // Stopping after a failed round must not leave the slow call unrecorded behind it.
      const { rows } = await db.pool.query<{ state: string }>(
        'SELECT state FROM webhook_deliveries WHERE event_id = $1',
        [slow],
      );
      expect(rows).toEqual([{ state: 'delivered' }]);
    } finally {
      await db.pool.query('DROP TRIGGER refuse_attempt ON webhook_delivery_attempts');
    }
  });
  it('should record a failed call while its subscription is being deleted, without a deadlock on either side', async () => {
    const subscriptionId = await subscription('/fail');
    const [eventId] = await queue(subscriptionId, 1);
    const deleting = await db.pool.connect();
    try {
      await deleting.query('BEGIN');
      await deleting.query(`UPDATE webhook_subscriptions SET deleted_at = now() WHERE subscription_id = $1`, [
        subscriptionId,
      ]);
      const round = loop('replica-deleting', { circuitFailures: 1 }).deliverDue();
      await until(async () => hits.includes(eventId));
      await new Promise((resolve) => setTimeout(resolve, 300));
      // The command-api's markDeleted: the subscription first, then its deliveries.
      await deleting.query(
        `UPDATE webhook_deliveries SET state = 'cancelled', finished_at = now(), next_attempt_at = NULL
          WHERE subscription_id = $1 AND state = 'pending'`,
        [subscriptionId],
      );
      await deleting.query('COMMIT');
      await expect(round).resolves.toBe(1);
    } finally {
      deleting.release();
    }
    const { rows } = await db.pool.query<{ attempt: number; outcome: string }>(
      'SELECT attempt, outcome FROM webhook_delivery_attempts WHERE event_id = $1',
      [eventId],
    );
    expect(rows).toEqual([{ attempt: 1, outcome: 'retry' }]);
  });

  it('should retry a delivery not sent no earlier than the end of the cool-off, even when this replica’s clock runs ahead', async () => {
    const [eventId] = await queue(await suspendedSubscription('2 seconds'), 1);
    const realNow = Date.now.bind(Date);
    const ahead = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 5_000);
    try {
      expect(await loop('replica-skewed').deliverDue()).toBe(1);
    } finally {
      ahead.mockRestore();
    }
    const { rows } = await db.pool.query<{ waits: boolean; logged: boolean }>(
      `SELECT d.next_attempt_at >= s.suspended_until AS waits, a.next_attempt_at = d.next_attempt_at AS logged
         FROM webhook_deliveries d JOIN webhook_subscriptions s USING (subscription_id)
         JOIN webhook_delivery_attempts a USING (delivery_id)
        WHERE d.event_id = $1`,
      [eventId],
    );
    expect(rows).toEqual([{ waits: true, logged: true }]);
    expect(hits).toEqual([]);
  });

  it('should fail a delivery whose last attempt is not sent, with no next attempt', async () => {
    const [eventId] = await queue(await suspendedSubscription('1 minute'), 1);
    expect(await loop('replica-last', { maxAttempts: 1 }).deliverDue()).toBe(1);
    const { rows } = await db.pool.query(
      `SELECT d.state, d.next_attempt_at AS delivery_next, a.outcome, a.next_attempt_at AS attempt_next
         FROM webhook_deliveries d JOIN webhook_delivery_attempts a USING (delivery_id)
        WHERE d.event_id = $1`,
      [eventId],
    );
    expect(rows).toEqual([{ state: 'failed', delivery_next: null, outcome: 'failed', attempt_next: null }]);
    expect(hits).toEqual([]);
  });

  it('should give a redelivered delivery every attempt of the schedule again, numbering its attempts on', async () => {
    const [eventId] = await queue(await subscription('/fail'), 1);
    // As `POST /v1/subscriptions/:id/redeliver` leaves a delivery that failed its 3 attempts.
    await db.pool.query(
      `UPDATE webhook_deliveries SET attempts = 3, attempts_before_redelivery = 3 WHERE event_id = $1`,
      [eventId],
    );
    const replica = loop('replica-redelivered', { maxAttempts: 3 });

    expect(await replica.deliverDue()).toBe(1);
    const { rows } = await db.pool.query(
      `SELECT d.state, d.attempts, a.attempt, a.outcome, a.next_attempt_at IS NOT NULL AS retried
         FROM webhook_deliveries d JOIN webhook_delivery_attempts a USING (delivery_id)
        WHERE d.event_id = $1`,
      [eventId],
    );
    expect(rows).toEqual([{ state: 'pending', attempts: 4, attempt: 4, outcome: 'retry', retried: true }]);

    failing = false;
    await until(async () => {
      await replica.deliverDue();
      return (await states([eventId]))[0] === 'delivered';
    });
    expect(hits).toEqual([eventId, eventId]);
  });

  it('should give a freed slot to the next delivery at once instead of waiting for the slowest call of its round', async () => {
    const slowReceiver = await subscription('/slow');
    const fastReceiver = await subscription('/fast');
    const [slow] = await queue(slowReceiver, 1, 1_000);
    const fast = await queue(fastReceiver, 5);
    const deliveries = loop('replica-hol', { concurrency: 2 });
    deliveries.start();
    try {
      await until(async () => (await states([slow, ...fast])).every((state) => state === 'delivered'));
    } finally {
      await deliveries.stop();
    }
    // One slot holds the slow call for a second; the other serves every fast delivery meanwhile.
    expect(answered[answered.length - 1]).toBe(slow);
  });

  it('should keep at most the per-subscription number of calls in flight to one receiver, over every replica, while others are served', async () => {
    const busy = await subscription('/slow-busy');
    const other = await subscription('/other');
    const backlog = await queue(busy, 8, 1_000);
    const others = await queue(other, 3);
    const settings = { concurrency: 6, concurrencyPerSubscription: 2 };
    const replicas = [loop('replica-x', settings), loop('replica-y', settings)];
    for (const replica of replicas) replica.start();
    try {
      await until(async () => (await states(others)).every((state) => state === 'delivered'));
      // The other receiver's deliveries, though newer, did not wait behind the backlog.
      expect((await states(backlog)).filter((state) => state === 'delivered').length).toBeLessThan(8);
      await until(async () => (await states(backlog)).every((state) => state === 'delivered'));
    } finally {
      await Promise.all(replicas.map((replica) => replica.stop()));
    }
    expect(peakInFlight.get('/slow-busy')).toBe(2);
  });

  it('should stop calling a receiver that keeps failing, record the skipped attempts with why, and resume after a successful probe', async () => {
    const subscriptionId = await subscription('/fail');
    const events = await queue(subscriptionId, 6);
    const settings = { concurrency: 1, maxAttempts: 5, backoffMs: [60_000], circuitFailures: 3 };
    const counted = { notSent: 0, opened: 0 };
    const first = loop('replica-circuit', settings, {
      onNotSent: () => (counted.notSent += 1),
      onCircuitOpened: () => (counted.opened += 1),
    });
    first.start();
    try {
      await until(async () => {
        const { rows } = await db.pool.query<{ n: string }>(
          `SELECT count(*) AS n FROM webhook_deliveries WHERE subscription_id = $1 AND attempts = 1`,
          [subscriptionId],
        );
        return Number(rows[0].n) === events.length;
      });
    } finally {
      await first.stop();
    }
    expect(hits).toHaveLength(3);
    expect(counted).toEqual({ notSent: 3, opened: 1 });
    const { rows: circuit } = await db.pool.query<{ consecutive_failures: number; open: boolean }>(
      `SELECT consecutive_failures, suspended_until > now() + interval '20 seconds' AS open
         FROM webhook_subscriptions WHERE subscription_id = $1`,
      [subscriptionId],
    );
    expect(circuit).toEqual([{ consecutive_failures: 3, open: true }]);
    const { rows: skipped } = await db.pool.query<{ error: string; waits_for_circuit: boolean }>(
      `SELECT a.error, a.next_attempt_at >= s.suspended_until AS waits_for_circuit
         FROM webhook_delivery_attempts a JOIN webhook_subscriptions s USING (subscription_id)
        WHERE a.subscription_id = $1 AND a.status_code IS NULL ORDER BY a.delivery_id`,
      [subscriptionId],
    );
    expect(skipped).toHaveLength(3);
    for (const attempt of skipped) {
      expect(attempt.error).toMatch(/^not sent: the receiver failed 3 calls in a row; calls resume after /);
      expect(attempt.waits_for_circuit).toBe(true);
    }

    // The receiver recovers and the cool-off ends: one probe, then everything flows again.
    failing = false;
    hits = [];
    await db.pool.query(
      `UPDATE webhook_subscriptions SET suspended_until = now() WHERE subscription_id = $1`,
      [subscriptionId],
    );
    await db.pool.query(`UPDATE webhook_deliveries SET next_attempt_at = now() WHERE subscription_id = $1`, [
      subscriptionId,
    ]);
    const second = loop('replica-circuit', { ...settings, concurrency: 4 });
    second.start();
    try {
      await until(async () => (await states(events)).every((state) => state === 'delivered'));
    } finally {
      await second.stop();
    }
    expect(hits).toHaveLength(events.length);
    expect(peakInFlight.get('/fail')).toBeGreaterThan(1);
    const { rows: closed } = await db.pool.query<{
      consecutive_failures: number;
      suspended_until: Date | null;
    }>('SELECT consecutive_failures, suspended_until FROM webhook_subscriptions WHERE subscription_id = $1', [
      subscriptionId,
    ]);
    expect(closed).toEqual([{ consecutive_failures: 0, suspended_until: null }]);
  });
});
