import { Global, Module } from '@nestjs/common';
import { ApiKeyGuard } from './api-key.guard';
import { ApiKeyRepository } from './api-key.repository';
import { ApiKeyStrategy } from './api-key.strategy';
import { RateLimiter } from './rate-limiter';

const providers = [ApiKeyRepository, ApiKeyStrategy, ApiKeyGuard, RateLimiter];

/** API-key authentication and the per-key rate limit, for every module's controllers. */
@Global()
@Module({ providers, exports: providers })
export class AuthModule {}
