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
  let delayMs: number;
  const executors: HttpExecutor[] = [];

  const loop = (owner: string, settings: Partial<WebhookDeliveryLoopOptions['settings']> = {}) => {
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
      settings: {
        timeoutMs: 5_000,
        maxAttempts: 3,
        backoffMs: [200],
        jitter: 0,
        maxRetryAfterMs: 1_000,
        concurrency: 4,
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
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        hits.push(String(req.headers['cronicorn-event-id']));
        const slow = req.url === '/slow' ? 1_000 : 0;
        setTimeout(() => res.writeHead(200).end('ok'), delayMs + slow);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  beforeEach(() => {
    hits = [];
    delayMs = 0;
  });

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
});
