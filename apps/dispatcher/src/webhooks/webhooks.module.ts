import { DynamicModule, Module } from '@nestjs/common';
import { CONFIG, CronicornConfig, SecretBox } from '@cronicorn/platform';
import { HttpExecutor } from '../http/http-executor';
import { TargetGuard, targetPolicyFromEnv } from '../http/target-guard';
import { WEBHOOK_EXECUTOR, WEBHOOK_SECRET_BOX, WEBHOOK_SETTINGS, WebhooksService } from './webhooks.service';
import { WebhookSettings, webhookSettingsFromEnv } from './webhooks.settings';

/**
 * Outbound webhooks (docs/integrations.md). Import with `WebhooksModule.forRoot()`; tests
 * pass overrides (short backoff, a target policy that allows the loopback receiver).
 */
@Module({})
export class WebhooksModule {
  static forRoot(overrides: Partial<WebhookSettings> = {}): DynamicModule {
    return {
      module: WebhooksModule,
      providers: [
        { provide: WEBHOOK_SETTINGS, useFactory: () => ({ ...webhookSettingsFromEnv(), ...overrides }) },
        {
          provide: WEBHOOK_EXECUTOR,
          inject: [WEBHOOK_SETTINGS],
          // No redirects: a receiver answers where it was registered (a 3xx is a failed attempt).
          useFactory: (settings: WebhookSettings) =>
            new HttpExecutor(new TargetGuard(settings.targetPolicy ?? targetPolicyFromEnv()), {
              maxRedirects: 0,
              userAgent: 'cronicorn-webhooks/1',
            }),
        },
        {
          provide: WEBHOOK_SECRET_BOX,
          inject: [CONFIG],
          useFactory: (config: CronicornConfig) =>
            config.secretsKey ? SecretBox.fromSecret(config.secretsKey) : null,
        },
        WebhooksService,
      ],
    };
  }
}
