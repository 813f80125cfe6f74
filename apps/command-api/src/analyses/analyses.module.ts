import { Module } from '@nestjs/common';
import { AnalyzeEndpointHttpController } from './analyze-endpoint/analyze-endpoint.http.controller';
import { PlannerClient } from './planner-client';

const httpControllers = [AnalyzeEndpointHttpController];

/**
 * On-demand analysis (`POST /v1/endpoints/:id/analyze`), relayed to the ai-planner over NATS
 * request/reply. Listing analyses is a read model query of the endpoints module.
 */
@Module({
  controllers: [...httpControllers],
  providers: [PlannerClient],
})
export class AnalysesModule {}
