import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, JetStreamClient, JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { NatsNames } from '@cronicorn/events';
import { connectNats, provisionStreams, silentLogger } from '@cronicorn/messaging';

export interface TestNats {
  /** NATS URL of the test server, for code under test that opens its own connection. */
  url: string;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** A random namespace: this suite's streams and subjects differ from everyone else's. */
  names: NatsNames;
  /** Deletes the namespaced streams (and their consumers) and closes the connection. */
  cleanup(): Promise<void>;
}

const testNatsUrl = () => process.env.TEST_NATS_URL || 'nats://127.0.0.1:4222';

/** Connects to the test NATS server and provisions `CRONICORN_EVENTS`/`_DISPATCH` in a fresh namespace. */
export async function createTestNats(): Promise<TestNats> {
  const url = testNatsUrl();
  const names = new NatsNames(`t${randomBytes(5).toString('hex')}`);
  const nc = await connectNats(url, `cronicorn-test-${names.namespace}`, { logger: silentLogger });
  const jsm = await jetstreamManager(nc);
  const cleanup = async () => {
    for (const stream of [names.eventsStream, names.dispatchStream]) {
      await jsm.streams.delete(stream).catch(() => false);
    }
    await nc.close();
  };
  try {
    await provisionStreams(jsm, names);
  } catch (error) {
    await cleanup();
    throw error;
  }
  return { url, nc, js: jetstream(nc), jsm, names, cleanup };
}
