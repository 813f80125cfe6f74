import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { CONFIG, CronicornConfig } from '@cronicorn/platform';
import type { Request } from 'express';
import { HeaderAPIKeyStrategy } from 'passport-headerapikey';
import { ADMIN_CONTEXT, AuthContext, tenantContext } from './auth-context';
import { API_KEY_PREFIX, ApiKeyRepository, hashApiKey } from './api-key.repository';

export const API_KEY_HEADER = 'x-api-key';
export const API_KEY_STRATEGY = 'api-key';

/** What passport's framework adds to a strategy for one attempt (see passport/lib/middleware). */
interface StrategyAttempt {
  success(user: AuthContext): void;
  fail(): void;
  error(error: unknown): void;
  authenticate(req: Request): void;
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * `x-api-key` → AuthContext: the admin key (constant-time compare) or an active tenant key
 * from `api_keys`. Unknown, malformed or revoked keys give null (401); a database error
 * propagates (503).
 */
@Injectable()
export class ApiKeyStrategy extends PassportStrategy(HeaderAPIKeyStrategy, API_KEY_STRATEGY) {
  private readonly adminDigest: Buffer | null;

  constructor(
    private readonly keys: ApiKeyRepository,
    @Inject(CONFIG) config: CronicornConfig,
  ) {
    super({ header: API_KEY_HEADER, prefix: '' }, false);
    this.adminDigest = config.adminApiKey ? digest(config.adminApiKey) : null;
  }

  async validate(apiKey: string): Promise<AuthContext | null> {
    // Comparing digests keeps the compare constant-time whatever the lengths.
    if (this.adminDigest && timingSafeEqual(digest(apiKey), this.adminDigest)) return ADMIN_CONTEXT;
    if (!apiKey.startsWith(API_KEY_PREFIX) || apiKey.length > 200) return null;
    const key = await this.keys.findActive(hashApiKey(apiKey));
    return key ? tenantContext(key.tenantId, key.keyId) : null;
  }

  /**
   * Runs the strategy on one request. Passport's global authenticator is bypassed on purpose:
   * it holds one strategy per name per process, so two app instances in one process (tests,
   * a second module) would share whichever registered last. This does what passport's
   * middleware does: a per-attempt copy of the strategy with its callbacks.
   */
  authenticateRequest(req: Request): Promise<AuthContext | null> {
    return new Promise((resolve, reject) => {
      const attempt = Object.create(this) as StrategyAttempt;
      attempt.success = (user) => resolve(user);
      attempt.fail = () => resolve(null);
      attempt.error = (error) => reject(error);
      attempt.authenticate(req);
    });
  }
}
