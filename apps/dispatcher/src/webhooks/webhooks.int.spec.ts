import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Event, EventEnvelope, RunFinished, RunStarted } from '@cronicorn/events';
import { PostgresEventStore } from '@cronicorn/event-store';
import { LogTail, silentLogger } from '@cronicorn/messaging';
import { CoreModule, loadConfig } from '@cronicorn/platform';
import { request } from '../../../command-api/test/http';
import { startApi, TestApi } from '../../../command-api/test/harness';
import { SubscriptionRepository } from '../../../command-api/src/subscriptions/subscription.repository';
import { verifyWebhookSignature, WEBHOOK_HEADERS } from './webhook-signature';
import { WebhooksModule } from './webhooks.module';
import { WebhooksService } from './webhooks.service';
import { queueDeliveries, subscribedTenants } from './webhook-matcher';

jest.setTimeout(60_000);

interface Hit {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

/** A webhook receiver on 127.0.0.1: answers 500 once for the event ids in `failOnce`, else 200. */
class Receiver {
  readonly hits: Hit[] = [];
  readonly failOnce = new Set<string>();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<Receiver> {
    let receiver: Receiver | null = null;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const eventId = String(req.headers[WEBHOOK_HEADERS.eventId]);
        const fail = receiver?.failOnce.delete(eventId) ?? false;
        const answered = fail ? 500 : 200;
        receiver?.hits.push({
          path: req.url ?? '/',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          answered,
        });
        res.writeHead(answered, { 'content-type': 'text/plain' }).end(fail ? 'boom' : 'ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    receiver = new Receiver(server);
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  hitsOf(path: string): Hit[] {
    return this.hits.filter((hit) => hit.path === path);
  }

  /** Event ids the receiver answered 2xx on `path`. */
  delivered(path: string): string[] {
    return this.hitsOf(path)
      .filter((hit) => hit.answered === 200)
      .map((hit) => String(hit.headers[WEBHOOK_HEADERS.eventId]));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

interface DeliveryLine {
  eventId: string;
  attempt: number;
  outcome: string;
  statusCode: number | null;
  error: string | null;
  nextAttemptAt: string | null;
}

/** A scheduled run's `RunStarted` and `RunFinished` (a success), not appended. */
function runStartedAndFinished(runId: string): { started: RunStarted; finished: RunFinished } {
  const run = {
    runId,
    endpointId: randomUUID(),
    jobId: randomUUID(),
    trigger: 'schedule' as const,
    retryOf: null,
  };
  const times = { scheduledFor: '2025-03-10T12:00:00.000Z', startedAt: '2025-03-10T12:00:00.010Z' };
  return {
    started: { type: 'RunStarted', data: { ...run, ...times, lateMs: 10, attempt: 1 } },
    finished: {
      type: 'RunFinished',
      data: {
        ...run,
        ...times,
        status: 'success',
        httpStatus: 200,
        durationMs: 12,
        attempts: 1,
        error: null,
        response: null,
        retryAfterMs: null,
        finishedAt: '2025-03-10T12:00:00.022Z',
      },
    },
  };
}

describe('Outbound webhooks (command-api subscriptions → dispatcher delivery)', () => {
  const secretsKey = randomBytes(32).toString('base64url');
  let api: TestApi;
  let dispatcher: INestApplication;
  let receiver: Receiver;
  let store: PostgresEventStore;
  let a: { tenantId: string; apiKey: string };
  let b: { tenantId: string; apiKey: string };

  const runEvent = async (tenantId: string, type: 'RunFinished' | 'RunStarted'): Promise<EventEnvelope> => {
    const runId = randomUUID();
    const { started, finished } = runStartedAndFinished(runId);
    const event: Event = type === 'RunFinished' ? finished : started;
    const result = await store.append(`run-${runId}`, [event], {
      expectedVersion: 0,
      metadata: { tenantId },
    });
    return result.envelopes[0];
  };

  const subscribe = async (apiKey: string, body: object) => {
    const res = await request(api.url, 'POST', '/v1/subscriptions', { apiKey, body });
    expect(res.status).toBe(201);
    return res.body as { id: string; secret: string };
  };

  const deliveryLog = async (apiKey: string, id: string) => {
    const res = await request<{ deliveries: DeliveryLine[] }>(
      api.url,
      'GET',
      `/v1/subscriptions/${id}/deliveries`,
      {
        apiKey,
      },
    );
    expect(res.status).toBe(200);
    return res.body.deliveries;
  };

  /** The log tail's checkpoint is at or past `envelope`: what it queued for it is final. */
  const handled = async (envelope: EventEnvelope) => {
    const { rows } = await api.db.pool.query<{ passed: boolean }>(
      `SELECT (c.transaction_id, c.position) >= (e.transaction_id::text::bigint, e.position) AS passed
         FROM consumer_checkpoints c, events e
        WHERE c.consumer = 'webhooks' AND e.event_id = $1`,
      [envelope.id],
    );
    return rows.length > 0 && rows[0].passed;
  };

  const deliveryRows = async (eventId: string) =>
    (await api.db.pool.query('SELECT 1 FROM webhook_deliveries WHERE event_id = $1', [eventId])).rowCount;

  const checkSignatures = (hits: Hit[], secret: string, tenantId: string) => {
    for (const hit of hits) {
      const envelope = JSON.parse(hit.body) as EventEnvelope;
      expect(hit.headers['content-type']).toBe('application/json');
      expect(hit.headers[WEBHOOK_HEADERS.eventId]).toBe(envelope.id);
      expect(hit.headers[WEBHOOK_HEADERS.eventType]).toBe(envelope.type);
      expect(envelope.tenantId).toBe(tenantId);
      const valid = verifyWebhookSignature({
        secret,
        body: hit.body,
        timestamp: hit.headers[WEBHOOK_HEADERS.timestamp] as string,
        signature: hit.headers[WEBHOOK_HEADERS.signature] as string,
        nowSeconds: Math.floor(Date.now() / 1000),
      });
      expect(valid).toBe(true);
      expect(
        verifyWebhookSignature({
          secret: `${secret}x`,
          body: hit.body,
          timestamp: hit.headers[WEBHOOK_HEADERS.timestamp] as string,
          signature: hit.headers[WEBHOOK_HEADERS.signature] as string,
          nowSeconds: Math.floor(Date.now() / 1000),
        }),
      ).toBe(false);
    }
  };

  beforeAll(async () => {
    api = await startApi({ env: { SECRETS_KEY: secretsKey } });
    store = new PostgresEventStore(api.db.pool);
    receiver = await Receiver.start();
    a = await api.createTenant('Webhooks A');
    b = await api.createTenant('Webhooks B');
    const config = loadConfig('dispatcher', {
      DATABASE_URL: api.db.url,
      NATS_URL: api.nats.url,
      CRONICORN_NATS_NAMESPACE: api.nats.names.namespace,
      SECRETS_KEY: secretsKey,
      LOG_LEVEL: 'silent',
    });
    const moduleRef = await Test.createTestingModule({
      imports: [
        CoreModule.forRoot('dispatcher', { config, relay: false }),
        WebhooksModule.forRoot({
          backoffMs: [200],
          jitter: 0,
          maxAttempts: 3,
          pollMs: 50,
          tailPollMs: 500,
          timeoutMs: 5_000,
          // The receiver listens on loopback: allow exactly that address, nothing else private.
          targetPolicy: { allowPrivateTargets: false, allowedAddresses: ['127.0.0.1'] },
        }),
      ],
    }).compile();
    dispatcher = moduleRef.createNestApplication({ logger: false });
    await dispatcher.init();
  });

  afterAll(async () => {
    await dispatcher?.close();
    await receiver?.close();
    await api?.close();
  });

  it('should deliver every subscribed event of the tenant, signed, retry after a 500, and nothing of another tenant', async () => {
    const early = await runEvent(a.tenantId, 'RunFinished');
    const secretA = 'tenant-a-signing-secret-0123456789';
    const subA = await subscribe(a.apiKey, {
      url: `http://127.0.0.1:${receiver.port}/a`,
      eventTypes: ['RunFinished'],
      secret: secretA,
    });
    const subB = await subscribe(b.apiKey, {
      url: `http://127.0.0.1:${receiver.port}/b`,
      eventTypes: ['RunFinished'],
    });
    // ::1 is loopback and not in the allowed addresses: the SSRF guard refuses it.
    const blocked = await subscribe(b.apiKey, {
      url: `http://[::1]:${receiver.port}/blocked`,
      eventTypes: ['RunStarted'],
    });

    const a1 = await runEvent(a.tenantId, 'RunFinished');
    receiver.failOnce.add(a1.id);
    const b1 = await runEvent(b.tenantId, 'RunFinished');
    const aStarted = await runEvent(a.tenantId, 'RunStarted');
    const a2 = await runEvent(a.tenantId, 'RunFinished');
    const bStarted = await runEvent(b.tenantId, 'RunStarted');
    const a3 = await runEvent(a.tenantId, 'RunFinished');

    await waitFor('A\u2019s run events', () =>
      [a1, a2, a3].every((e) => receiver.delivered('/a').includes(e.id)),
    );
    await waitFor('B\u2019s run event', () => receiver.delivered('/b').includes(b1.id));

    expect(new Set(receiver.delivered('/a'))).toEqual(new Set([a1.id, a2.id, a3.id]));
    expect(new Set(receiver.delivered('/b'))).toEqual(new Set([b1.id]));
    const a1Hits = receiver.hitsOf('/a').filter((hit) => hit.headers[WEBHOOK_HEADERS.eventId] === a1.id);
    expect(a1Hits.map((hit) => hit.answered).slice(0, 2)).toEqual([500, 200]);
    expect(a1Hits[0].body).toBe(a1Hits[1].body);
    expect(JSON.parse(a1Hits[0].body)).toEqual(JSON.parse(JSON.stringify(a1)));
    checkSignatures(receiver.hitsOf('/a'), secretA, a.tenantId);
    checkSignatures(receiver.hitsOf('/b'), subB.secret, b.tenantId);

    // The receiver sees the 200 before the dispatcher records it.
    await waitFor('the retried delivery to be recorded', async () =>
      (await deliveryLog(a.apiKey, subA.id)).some((l) => l.eventId === a1.id && l.outcome === 'delivered'),
    );
    const logA = await deliveryLog(a.apiKey, subA.id);
    const a1Log = logA.filter((line) => line.eventId === a1.id).sort((x, y) => x.attempt - y.attempt);
    expect(a1Log).toEqual([
      expect.objectContaining({
        attempt: 1,
        outcome: 'retry',
        statusCode: 500,
        nextAttemptAt: expect.any(String),
      }),
      expect.objectContaining({
        attempt: 2,
        outcome: 'delivered',
        statusCode: 200,
        error: null,
        nextAttemptAt: null,
      }),
    ]);
    expect(logA.map((line) => line.eventId)).not.toContain(aStarted.id);

    await waitFor('the refused delivery to fail for good', async () =>
      (await deliveryLog(b.apiKey, blocked.id)).some((line) => line.outcome === 'failed'),
    );
    const blockedLog = await deliveryLog(b.apiKey, blocked.id);
    expect(blockedLog.map((line) => [line.eventId, line.attempt, line.outcome])).toEqual([
      [bStarted.id, 3, 'failed'],
      [bStarted.id, 2, 'retry'],
      [bStarted.id, 1, 'retry'],
    ]);
    for (const line of blockedLog) expect(line.error).toMatch(/target refused/);
    expect(receiver.hitsOf('/blocked')).toEqual([]);

    // History before the subscription is never sent.
    await waitFor('the tail to pass the early event', () => handled(early));
    expect(await deliveryRows(early.id)).toBe(0);
    expect(receiver.hits.map((hit) => hit.headers[WEBHOOK_HEADERS.eventId])).not.toContain(early.id);
  });

  it('should deliver an event that follows a subscription in the log though the subscription committed while the tail read', async () => {
    const tenant = await api.createTenant('Webhooks late commit');
    const metadata = { tenantId: tenant.tenantId };
    const tailStore = dispatcher.get(PostgresEventStore);
    const readAll = tailStore.readAll.bind(tailStore);
    let reads: jest.SpiedFunction<typeof tailStore.readAll> | undefined;
    const repository = api.app.get(SubscriptionRepository);
    const insert = repository.insert.bind(repository);
    let written: () => void = () => undefined;
    let commit: () => void = () => undefined;
    const subscriptionWritten = new Promise<void>((resolve) => (written = resolve));
    const committing = new Promise<void>((resolve) => (commit = resolve));
    const held = jest.spyOn(repository, 'insert').mockImplementationOnce(async (client, row) => {
      await insert(client, row);
      written();
      await committing;
    });
    // A writer that took its transaction id before the subscription's and appends after it.
    const olderWriter = await api.db.pool.connect();
    try {
      await olderWriter.query('BEGIN');
      await olderWriter.query('SELECT pg_current_xact_id()');
      const subscribing = subscribe(tenant.apiKey, {
        url: `http://127.0.0.1:${receiver.port}/late-commit`,
        eventTypes: ['*'],
      });
      await subscriptionWritten;
      // `follows` commits in a younger transaction than the subscription's: it follows it in
      // the log. `precedes` comes from the older writer: it comes before the subscription.
      const follows = await runEvent(tenant.tenantId, 'RunStarted');
      const runId = randomUUID();
      const [precedes] = (
        await store.append(`run-${runId}`, [runStartedAndFinished(runId).started], {
          expectedVersion: 0,
          metadata,
          client: olderWriter,
        })
      ).envelopes;
      await olderWriter.query('COMMIT');
      // The tail reads the subscriptions before the commit and the log after it.
      let committed = false;
      reads = jest.spyOn(tailStore, 'readAll').mockImplementation(async (after, options) => {
        if (!committed) {
          committed = true;
          commit();
          await subscribing;
        }
        return readAll(after, options);
      });
      await waitFor('the tail to read the log', () => committed);
      const subscription = await subscribing;
      await waitFor(
        'the tail to pass both events',
        async () => (await handled(follows)) && handled(precedes),
      );
      const { rows } = await api.db.pool.query<{ event_id: string }>(
        'SELECT event_id FROM webhook_deliveries WHERE subscription_id = $1',
        [subscription.id],
      );
      expect(rows.map((row) => row.event_id)).toEqual([follows.id]);
      await waitFor('the delivery', () => receiver.delivered('/late-commit').includes(follows.id));
    } finally {
      commit();
      await olderWriter.query('ROLLBACK').catch(() => undefined);
      olderWriter.release();
      held.mockRestore();
      reads?.mockRestore();
    }
  });

  it('should stop delivering once the subscription is deleted', async () => {
    const subA = await subscribe(a.apiKey, {
      url: `http://127.0.0.1:${receiver.port}/deleted`,
      eventTypes: ['*'],
    });
    const before = await runEvent(a.tenantId, 'RunFinished');
    await waitFor('the event before deletion', () => receiver.delivered('/deleted').includes(before.id));
    const deleted = await request(api.url, 'DELETE', `/v1/subscriptions/${subA.id}`, { apiKey: a.apiKey });
    expect(deleted.status).toBe(202);

    const after = await runEvent(a.tenantId, 'RunFinished');
    await waitFor('the tail to pass the event after deletion', () => handled(after));
    const { rows } = await api.db.pool.query(
      'SELECT 1 FROM webhook_deliveries WHERE subscription_id = $1 AND event_id = $2',
      [subA.id, after.id],
    );
    expect(rows).toEqual([]);
    expect(receiver.hitsOf('/deleted').map((hit) => hit.headers[WEBHOOK_HEADERS.eventId])).not.toContain(
      after.id,
    );
  });
  it('should queue every event once while a second replica\u2019s tail takes over from a stopped leader', async () => {
    const tenant = await api.createTenant('Webhooks takeover');
    const subscription = await subscribe(tenant.apiKey, {
      url: `http://127.0.0.1:${receiver.port}/takeover`,
      eventTypes: ['*'],
    });
    const leader = dispatcher.get(WebhooksService).logTail;
    expect(leader.isLeader).toBe(true);
    const standby = new LogTail({
      pool: api.db.pool,
      store,
      name: 'webhooks',
      tenantsOf: subscribedTenants,
      handle: (events, client) => queueDeliveries(events, client).then(() => undefined),
      pollIntervalMs: 100,
      logger: silentLogger,
    });
    standby.start();
    try {
      const first: EventEnvelope[] = [];
      for (let i = 0; i < 10; i++) first.push(await runEvent(tenant.tenantId, 'RunFinished'));
      await leader.stop();
      expect(standby.isLeader).toBe(false);
      const second: EventEnvelope[] = [];
      for (let i = 0; i < 10; i++) second.push(await runEvent(tenant.tenantId, 'RunFinished'));
      await waitFor('the standby to lead and pass every event', async () =>
        (await Promise.all([...first, ...second].map(handled))).every(Boolean),
      );
      expect(standby.isLeader).toBe(true);
      const { rows } = await api.db.pool.query<{ event_id: string }>(
        'SELECT event_id FROM webhook_deliveries WHERE subscription_id = $1 ORDER BY delivery_id',
        [subscription.id],
      );
      expect(rows.map((row) => row.event_id)).toEqual([...first, ...second].map((e) => e.id));
    } finally {
      await standby.stop();
    }
  });
});
