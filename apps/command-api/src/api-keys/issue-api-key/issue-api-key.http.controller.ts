import { Body, Controller, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBadRequestResponse, ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { CorrelationId } from '../../common/correlation-id.decorator';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { created } from '../../common/responses';
import { IdempotencyKeyHeader } from '../../common/swagger';
import { IssueApiKeyCommand } from './issue-api-key.command';
import { IssueApiKeyRequestDto } from './issue-api-key.request.dto';
import { IssueApiKeyResponseDto } from './issue-api-key.response.dto';

@ApiTags('api-keys')
@Controller('v1/api-keys')
@TenantAuth()
export class IssueApiKeyHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Post()
  @ApiOperation({ summary: 'Issue another API key for the caller\u2019s tenant' })
  @IdempotencyKeyHeader()
  @ApiCreatedResponse({
    type: IssueApiKeyResponseDto,
    description: 'The API key is shown only in this answer',
  })
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  async issue(
    @Body() body: IssueApiKeyRequestDto,
    @Auth() auth: TenantAuthContext,
    @CorrelationId() correlationId: string,
  ) {
    const result = await this.commandBus.execute(new IssueApiKeyCommand(body.name, auth, correlationId));
    return created('key', result.keyId, result.position, { apiKey: result.apiKey, prefix: result.prefix });
  }
}
