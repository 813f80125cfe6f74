import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  AckPolicy,
  JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { NatsNames } from '@cronicorn/events';
import { connectNats } from './nats';
import { silentLogger } from './logger';
import {
  DUPLICATE_WINDOW_MS,
  eventsFilterSubject,
  provisionConsumer,
  provisionStreams,
  retireConsumer,
} from './provisioning';

jest.setTimeout(30_000);

describe('Provisioning', () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const namespaces: NatsNames[] = [];
  const fresh = () => {
    const names = new NatsNames(`t${randomBytes(5).toString('hex')}`);
    namespaces.push(names);
    return names;
  };

  beforeAll(async () => {
    nc = await connectNats(process.env.TEST_NATS_URL || 'nats://127.0.0.1:4222', 'provisioning-test', {
      logger: silentLogger,
    });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    for (const names of namespaces) {
      for (const stream of [names.eventsStream, names.dispatchStream])
        await jsm.streams.delete(stream).catch(() => false);
    }
    await nc.close();
  });

  describe('When streams are provisioned', () => {
    it('should create the events and dispatch streams with the contract settings', async () => {
      const names = fresh();

      await provisionStreams(jsm, names);

      const events = await jsm.streams.info(names.eventsStream);
      expect(events.config).toMatchObject({
        subjects: [`${names.namespace}.cronicorn.events.>`],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        duplicate_window: nanos(DUPLICATE_WINDOW_MS),
      });
      const dispatch = await jsm.streams.info(names.dispatchStream);
      expect(dispatch.config).toMatchObject({
        subjects: [`${names.namespace}.cronicorn.dispatch.>`],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        duplicate_window: nanos(DUPLICATE_WINDOW_MS),
      });
    });

    it('should be idempotent when run twice and by several apps at once', async () => {
      const names = fresh();
      await jsm.streams.add({
        name: names.eventsStream,
        subjects: [names.allEvents],
        duplicate_window: nanos(5_000),
      });
      const js = jsm.jetstream();
      await js.publish(`${names.eventsSubjectPrefix}.t1.job.JobCreated`, '{}');

      await provisionStreams(jsm, names);
      await Promise.all(Array.from({ length: 5 }, () => provisionStreams(jsm, names)));
      await provisionStreams(jsm, names);

      const events = await jsm.streams.info(names.eventsStream);
      expect(events.config.duplicate_window).toBe(nanos(DUPLICATE_WINDOW_MS));
      expect(events.state.messages).toBe(1);
      const streams: string[] = [];
      for await (const name of jsm.streams.names(`${names.namespace}.>`)) streams.push(name);
      expect(streams.sort()).toEqual([names.dispatchStream, names.eventsStream].sort());
    });
  });

  describe('When a consumer is provisioned', () => {
    it('should create a durable explicit-ack consumer, and update it when run again with new settings', async () => {
      const names = fresh();
      await provisionStreams(jsm, names);
      const spec = {
        durable: 'projector',
        filterSubject: eventsFilterSubject(names, ['job']),
        maxDeliver: 4,
      };

      await Promise.all([1, 2, 3].map(() => provisionConsumer(jsm, names.eventsStream, spec)));
      const created = await jsm.consumers.info(names.eventsStream, 'projector');
      await provisionConsumer(jsm, names.eventsStream, { ...spec, ackWaitMs: 5_000 });
      const updated = await jsm.consumers.info(names.eventsStream, 'projector');

      expect(created.config).toMatchObject({
        durable_name: 'projector',
        ack_policy: AckPolicy.Explicit,
        filter_subject: `${names.eventsSubjectPrefix}.*.job.>`,
        max_deliver: 5,
        ack_wait: nanos(30_000),
      });
      expect(updated.config.ack_wait).toBe(nanos(5_000));
      expect(updated.config.filter_subject).toBe(created.config.filter_subject);
    });
  });
  describe('When a consumer is retired', () => {
    it('should delete it, and say there was none the second time', async () => {
      const names = fresh();
      await provisionStreams(jsm, names);
      await provisionConsumer(jsm, names.eventsStream, {
        durable: 'webhooks',
        filterSubject: eventsFilterSubject(names, ['run']),
      });

      expect(await retireConsumer(jsm, names.eventsStream, 'webhooks')).toBe(true);
      expect(await retireConsumer(jsm, names.eventsStream, 'webhooks')).toBe(false);
      await expect(jsm.consumers.info(names.eventsStream, 'webhooks')).rejects.toThrow();
    });
  });
});
