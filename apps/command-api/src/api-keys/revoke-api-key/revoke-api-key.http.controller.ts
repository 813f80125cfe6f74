import { Controller, Delete, Param } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import {
  ApiAcceptedResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { CorrelationId } from '../../common/correlation-id.decorator';
import { CommandAnswerDto } from '../../common/command-answer.dto';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { accepted } from '../../common/responses';
import { RevokeApiKeyCommand } from './revoke-api-key.command';

@ApiTags('api-keys')
@Controller('v1/api-keys')
@TenantAuth()
export class RevokeApiKeyHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Delete(':id')
  @ApiOperation({
    summary: 'Revoke an API key',
    description:
      'The key stops authenticating at once. Revoking the key that makes this call is allowed, ' +
      'but not revoking the tenant\u2019s last active key (only a tenant key can issue keys): ' +
      'issue a new key first.',
  })
  @ApiParam({ name: 'id', description: 'The key id' })
  @ApiAcceptedResponse({
    type: CommandAnswerDto,
    description: '`keyId` is set; position null if already revoked',
  })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such key in this tenant' })
  @ApiConflictResponse({
    type: ErrorResponseDto,
    description:
      '`API_KEY.LAST_KEY`: the tenant\u2019s last active key; issue a new key first. Nothing is written.',
  })
  async revoke(
    @Param('id') id: string,
    @Auth() auth: TenantAuthContext,
    @CorrelationId() correlationId: string,
  ) {
    const result = await this.commandBus.execute(new RevokeApiKeyCommand(id, auth, correlationId));
    return accepted('key', result.keyId, result.position);
  }
}
