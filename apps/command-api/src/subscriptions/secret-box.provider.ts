import { Provider } from '@nestjs/common';
import { CONFIG, CronicornConfig, SecretBox } from '@cronicorn/platform';

/** The `SecretBox` on `SECRETS_KEY`, or null when the key is not configured. */
export const SUBSCRIPTION_SECRET_BOX = Symbol('SUBSCRIPTION_SECRET_BOX');

export const subscriptionSecretBoxProvider: Provider = {
  provide: SUBSCRIPTION_SECRET_BOX,
  inject: [CONFIG],
  useFactory: (config: CronicornConfig) =>
    config.secretsKey ? SecretBox.fromSecret(config.secretsKey) : null,
};
