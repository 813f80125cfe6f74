import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { ApiKeyRepository } from '../../auth/api-key.repository';
import { ReadsFrom } from '../../common/min-position.interceptor';
import { ApiKeyListResponseDto } from './api-key.response.dto';

@ApiTags('api-keys')
@Controller('v1/api-keys')
@TenantAuth()
export class ListApiKeysHttpController {
  constructor(private readonly keys: ApiKeyRepository) {}

  /** Served from `api_keys`, which commits with the events: no read-model lag. */
  @Get()
  @ReadsFrom('inline')
  @ApiOperation({ summary: 'List the tenant\u2019s API keys, revoked ones included' })
  @ApiOkResponse({ type: ApiKeyListResponseDto })
  async list(@Auth() auth: TenantAuthContext): Promise<ApiKeyListResponseDto> {
    const rows = await this.keys.list(auth.tenantId);
    return {
      apiKeys: rows.map(({ keyId, name, prefix, createdAt, revokedAt }) => ({
        id: keyId,
        name,
        prefix,
        createdAt,
        revokedAt,
      })),
    };
  }
}
