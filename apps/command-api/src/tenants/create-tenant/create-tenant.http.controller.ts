import { Body, Controller, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBadRequestResponse, ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminAuth, Auth } from '../../auth/auth.decorators';
import type { AuthContext } from '../../auth/auth-context';
import { CorrelationId } from '../../common/correlation-id.decorator';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { IdempotencyKeyHeader } from '../../common/swagger';
import { created } from '../../common/responses';
import { CreateTenantCommand } from './create-tenant.command';
import { CreateTenantRequestDto } from './create-tenant.request.dto';
import { CreateTenantResponseDto } from './create-tenant.response.dto';

@ApiTags('tenants')
@Controller('v1/tenants')
export class CreateTenantHttpController {
  constructor(private readonly commandBus: CommandBus) {}

  @Post()
  @AdminAuth()
  @ApiOperation({ summary: 'Create a tenant and its first API key (admin key only)' })
  @IdempotencyKeyHeader()
  @ApiCreatedResponse({
    type: CreateTenantResponseDto,
    description: 'The API key is shown only in this answer',
  })
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  async create(
    @Body() body: CreateTenantRequestDto,
    @Auth() auth: AuthContext,
    @CorrelationId() correlationId: string,
  ) {
    const result = await this.commandBus.execute(new CreateTenantCommand(body.name, auth, correlationId));
    return created('tenant', result.tenantId, result.position, {
      apiKey: result.apiKey,
      keyId: result.keyId,
    });
  }
}
