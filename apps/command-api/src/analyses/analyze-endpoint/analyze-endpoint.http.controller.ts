import { Controller, Param, Post } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiGatewayTimeoutResponse,
  ApiNotFoundResponse,
  ApiOperation,
  ApiParam,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { conflict, endpointDecider, notFound } from '@cronicorn/domain';
import { streamIds } from '@cronicorn/events';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { unavailable } from '../../common/api-error';
import { CommandExecutor } from '../../common/command-executor';
import { CorrelationId } from '../../common/correlation-id.decorator';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { created } from '../../common/responses';
import { IdempotencyKeyHeader } from '../../common/swagger';
import { liveJobGuard } from '../../endpoints/live-job.guard';
import { EndpointIdPipe } from '../../resources/resource-id.pipe';
import { PlannerClient } from '../planner-client';
import { AnalyzeAnswerDto } from './analyze-endpoint.response.dto';

@ApiTags('endpoints')
@TenantAuth()
@Controller('v1/endpoints')
export class AnalyzeEndpointHttpController {
  constructor(
    private readonly planner: PlannerClient,
    private readonly executor: CommandExecutor,
  ) {}

  @Post(':id/analyze')
  @IdempotencyKeyHeader()
  @ApiOperation({
    summary: 'Analyse an endpoint now',
    description:
      'Runs one planner cycle at once (the LLM, or the heuristic planner without an API key or over the ' +
      "tenant's daily token budget). Its tool calls go through the endpoint decider like POST …/hints; the " +
      'answer is the recorded analysis. An LLM that fails or times out gives status failed, not an error.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiCreatedResponse({ type: AnalyzeAnswerDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({
    type: ErrorResponseDto,
    description: 'The endpoint or its job is archived, or another analysis of it is still running',
  })
  @ApiServiceUnavailableResponse({
    type: ErrorResponseDto,
    description: 'No ai-planner running, or NATS down',
  })
  @ApiGatewayTimeoutResponse({ type: ErrorResponseDto, description: 'No ai-planner answered in time' })
  async analyze(
    @Auth() auth: TenantAuthContext,
    @CorrelationId() correlationId: string,
    @Param('id', EndpointIdPipe) endpointId: string,
  ) {
    // Checked here as the other endpoint commands do: the planner only tells what it can analyse.
    const { state } = await this.executor.load(
      streamIds.endpoint(endpointId),
      endpointDecider,
      auth,
      'ENDPOINT.NOT_FOUND',
    );
    if (state.status === 'archived')
      throw conflict('ENDPOINT.ARCHIVED', `Endpoint ${endpointId} is archived`);
    await liveJobGuard(this.executor, auth)(state);
    const reply = await this.planner.analyze({ tenantId: auth.tenantId, endpointId, correlationId });
    if (!reply.ok) {
      switch (reply.error.code) {
        case 'ENDPOINT.NOT_FOUND':
          throw notFound('ENDPOINT.NOT_FOUND', 'Endpoint not found');
        case 'ANALYSIS.BUSY':
          throw conflict('ANALYSIS.BUSY', reply.error.message);
        default:
          throw unavailable(reply.error.message);
      }
    }
    const { analysisId, position, ...analysis } = reply.analysis;
    return created('analysis', analysisId, position, analysis);
  }
}
