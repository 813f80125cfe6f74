import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Module, OnApplicationShutdown } from '@nestjs/common';
import { GroupCommitAppender, PostgresEventStore } from '@cronicorn/event-store';
import {
  clockFromEnv,
  CONFIG,
  CoreModule,
  CronicornConfig,
  METRICS_REGISTRY,
  NatsRuntime,
  nestMessagingLogger,
  SecretBox,
} from '@cronicorn/platform';
import type { Registry } from 'prom-client';
import { DispatchConsumer, DISPATCHER_SETTINGS } from './dispatch/dispatch.consumer';
import { DispatcherMetrics } from './dispatch/dispatcher.metrics';
import { RunDispatcher } from './dispatch/run-dispatcher';
import { DispatcherSettings, dispatcherSettingsFromEnv } from './dispatcher.settings';
import { HttpExecutor } from './http/http-executor';
import { TargetGuard, targetPolicyFromEnv } from './http/target-guard';
import { WebhooksModule } from './webhooks/webhooks.module';

const SECRET_BOX = Symbol('SECRET_BOX');

@Module({
  imports: [CoreModule.forRoot('dispatcher'), WebhooksModule.forRoot()],
  providers: [
    { provide: DISPATCHER_SETTINGS, useFactory: () => dispatcherSettingsFromEnv() },
    {
      provide: HttpExecutor,
      useFactory: () => new HttpExecutor(new TargetGuard(targetPolicyFromEnv())),
    },
    {
      provide: SECRET_BOX,
      inject: [CONFIG],
      useFactory: (config: CronicornConfig) =>
        config.secretsKey ? SecretBox.fromSecret(config.secretsKey) : null,
    },
    {
      provide: DispatcherMetrics,
      inject: [METRICS_REGISTRY],
      useFactory: (registry: Registry) => new DispatcherMetrics(registry),
    },
    {
      provide: RunDispatcher,
      inject: [
        PostgresEventStore,
        HttpExecutor,
        SECRET_BOX,
        NatsRuntime,
        DISPATCHER_SETTINGS,
        DispatcherMetrics,
      ],
      useFactory: (
        store: PostgresEventStore,
        executor: HttpExecutor,
        secretBox: SecretBox | null,
        nats: NatsRuntime,
        settings: DispatcherSettings,
        metrics: DispatcherMetrics,
      ) => {
        // RunStarted and RunFinished of concurrent runs share commits.
        const appender = new GroupCommitAppender(store, {
          maxBatch: settings.appendBatch,
          concurrency: settings.appendConcurrency,
        });
        return new RunDispatcher({
          store: {
            readStream: (streamId, options) => store.readStream(streamId, options),
            append: (streamId, events, options) => appender.append(streamId, events, options),
          },
          executor,
          secretBox,
          isQueued: async (seq) => {
            const { jsm, names } = await nats.ready;
            return (await jsm.streams.getMessage(names.dispatchStream, { seq })) !== null;
          },
          dispatcherId: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
          maxRunAttempts: settings.maxRunAttempts,
          clock: clockFromEnv(),
          logger: nestMessagingLogger('Dispatcher'),
          metrics,
        });
      },
    },
    DispatchConsumer,
  ],
})
export class DispatcherModule implements OnApplicationShutdown {
  constructor(private readonly executor: HttpExecutor) {}

  /** After the consumer's calls have finished: close the pooled keep-alive connections. */
  onApplicationShutdown(): void {
    this.executor.close();
  }
}
