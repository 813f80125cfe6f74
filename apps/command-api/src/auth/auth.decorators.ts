import {
  applyDecorators,
  createParamDecorator,
  ExecutionContext,
  SetMetadata,
  UseGuards,
} from '@nestjs/common';
import { ApiSecurity, ApiTooManyRequestsResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ErrorResponseDto } from '../common/error-response.dto';
import { AUTH_REQUEST_PROPERTY, AuthContext } from './auth-context';
import { API_KEY_STRATEGY } from './api-key.strategy';
import { ApiKeyGuard, AUTH_MODE, AuthenticatedRequest } from './api-key.guard';

const authDecorators = (mode: 'tenant' | 'admin', description: string) =>
  applyDecorators(
    SetMetadata(AUTH_MODE, mode),
    UseGuards(ApiKeyGuard),
    ApiSecurity(API_KEY_STRATEGY),
    ApiUnauthorizedResponse({ description, type: ErrorResponseDto }),
    ApiTooManyRequestsResponse({
      description: 'Rate limit of the key exceeded (see Retry-After)',
      type: ErrorResponseDto,
    }),
  );

/** Class or method: a tenant API key is required; the admin key gets 401 too. */
export const TenantAuth = () => authDecorators('tenant', 'No, unknown or revoked tenant API key');

/** Class or method: the admin API key (`ADMIN_API_KEY`) is required. */
export const AdminAuth = () => authDecorators('admin', 'No or wrong admin API key');

/**
 * Parameter: the caller's AuthContext. On `@TenantAuth()` routes `tenantId` and `keyId` are
 * set; type the parameter as `TenantAuthContext` there.
 */
export const Auth = createParamDecorator((_data: unknown, ctx: ExecutionContext): AuthContext => {
  const auth = ctx.switchToHttp().getRequest<AuthenticatedRequest>()[AUTH_REQUEST_PROPERTY];
  if (!auth) throw new Error('@Auth() used on a route without @TenantAuth() or @AdminAuth()');
  return auth;
});
