import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { loadConfig } from '@cronicorn/platform';
import { createTestDatabase, createTestNats, TcpProxy, TestDatabase, TestNats } from '@cronicorn/testing';
import { startCommandApi } from '../src/api';

// Every suite that uses the harness starts a real app, database and NATS namespace; on a busy
// machine that alone can pass jest's 5 s default.
jest.setTimeout(30_000);

export interface StartApiOptions {
  /**
   * Extra environment for this app (rate limits, `ALLOW_PRIVATE_TARGETS`, …). The database,
   * NATS namespace, port and admin key are always the harness's own.
   */
  env?: NodeJS.ProcessEnv;
  /** Route the app's Postgres connections through a TcpProxy (pause it to cut Postgres off). */
  postgresProxy?: boolean;
}

export interface TestApi {
  /** Base URL, e.g. `http://127.0.0.1:40123` (no trailing slash). */
  url: string;
  adminKey: string;
  app: NestExpressApplication;
  /** The app's own database (migrated); `db.pool` for assertions on tables and events. */
  db: TestDatabase;
  /** The app's NATS namespace (`nats.names`), streams provisioned. */
  nats: TestNats;
  /** Present when started with `postgresProxy: true`. */
  postgresProxy: TcpProxy | null;
  /** POST /v1/tenants with the admin key. */
  createTenant(name?: string): Promise<{ tenantId: string; apiKey: string }>;
  /** Stops the app, deletes the NATS streams and drops the database. */
  close(): Promise<void>;
}

/**
 * The real command-api on a free port (`bootstrapApp`, the same code path as `main.ts`) with
 * its own database and NATS namespace. Resolves once `/readyz` says ready.
 */
export async function startApi(options: StartApiOptions = {}): Promise<TestApi> {
  const db = await createTestDatabase();
  const nats = await createTestNats();
  const postgresProxy = options.postgresProxy
    ? await TcpProxy.start(Number(new URL(db.url).port || 5432))
    : null;
  const adminKey = `admin_${randomBytes(24).toString('base64url')}`;
  const env: NodeJS.ProcessEnv = {
    LOG_LEVEL: 'silent',
    SECRETS_KEY: randomBytes(32).toString('base64url'),
    ...options.env,
    DATABASE_URL: postgresProxy ? postgresProxy.wrapUrl(db.url) : db.url,
    NATS_URL: nats.url,
    CRONICORN_NATS_NAMESPACE: nats.names.namespace,
    PORT: '0',
    ADMIN_API_KEY: adminKey,
  };
  let app: NestExpressApplication | undefined;
  const close = async () => {
    await app?.close();
    await postgresProxy?.close();
    await nats.cleanup();
    await db.drop();
  };
  try {
    app = await startCommandApi({ config: loadConfig('command-api', env), env });
    const { port } = app.getHttpServer().address() as AddressInfo;
    const url = `http://127.0.0.1:${port}`;
    await waitForReady(url);
    const createTenant = async (name = 'Test tenant') => {
      const res = await fetch(`${url}/v1/tenants`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': adminKey },
        body: JSON.stringify({ name }),
      });
      if (res.status !== 201) throw new Error(`POST /v1/tenants answered ${res.status}: ${await res.text()}`);
      const body = (await res.json()) as { tenantId: string; apiKey: string };
      return { tenantId: body.tenantId, apiKey: body.apiKey };
    };
    return { url, adminKey, app, db, nats, postgresProxy, createTenant, close };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}

async function waitForReady(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.status === 200) return;
      last = await res.text();
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`command-api not ready after ${timeoutMs}ms: ${last}`);
}
