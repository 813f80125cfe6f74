import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ApiError, ErrorCodes, unauthorized } from '../common/api-error';
import { AUTH_REQUEST_PROPERTY, AuthContext } from './auth-context';
import { ApiKeyStrategy } from './api-key.strategy';
import { RateLimiter } from './rate-limiter';

export type AuthMode = 'tenant' | 'admin';
export const AUTH_MODE = 'cronicorn:auth-mode';

export type AuthenticatedRequest = Request & { [AUTH_REQUEST_PROPERTY]?: AuthContext };

/**
 * Authenticates `x-api-key` for routes marked `@TenantAuth()` / `@AdminAuth()`, then spends
 * one token of the key's rate limit. Every failure is the same 401, whichever way the key is
 * wrong (missing, unknown, revoked, admin key on a tenant route or the reverse).
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly strategy: ApiKeyStrategy,
    private readonly limiter: RateLimiter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const mode = this.reflector.getAllAndOverride<AuthMode | undefined>(AUTH_MODE, [
      context.getHandler(),
      context.getClass(),
    ]);
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const auth = await this.strategy.authenticateRequest(req);
    if (!auth) throw unauthorized();
    if (mode === 'admin' && !auth.isAdmin) throw unauthorized('This route needs the admin API key');
    if (mode === 'tenant' && (auth.isAdmin || !auth.tenantId))
      throw unauthorized('This route needs a tenant API key');
    const retryAfter = this.limiter.take(auth.keyId ?? 'admin');
    if (retryAfter > 0) {
      throw new ApiError(
        429,
        ErrorCodes.rateLimited,
        `Rate limit exceeded; retry in ${retryAfter}s`,
        undefined,
        {
          'Retry-After': String(retryAfter),
        },
      );
    }
    req[AUTH_REQUEST_PROPERTY] = auth;
    return true;
  }
}
