import { Provider } from '@nestjs/common';
import { CONFIG, CronicornConfig, SecretBox } from '@cronicorn/platform';
import { unavailable } from '../common/api-error';
import type { EncryptSecrets } from './endpoint-input.mapper';

/** The `SecretBox` on `SECRETS_KEY`, or null when the key is not configured. */
export const SECRET_BOX = Symbol('SECRET_BOX');

export const secretBoxProvider: Provider = {
  provide: SECRET_BOX,
  inject: [CONFIG],
  useFactory: (config: CronicornConfig) =>
    config.secretsKey ? SecretBox.fromSecret(config.secretsKey) : null,
};

/**
 * Encrypts with `box`. Without SECRETS_KEY a secret cannot be stored safely, which is the
 * server's fault, not the caller's: 503, and nothing is written.
 */
export function encryptWith(box: SecretBox | null): EncryptSecrets {
  return (values) => {
    if (Object.keys(values).length === 0) return {};
    if (!box)
      throw unavailable('secretHeaders cannot be stored: SECRETS_KEY is not configured on the server');
    return box.encryptValues(values);
  };
}
