import { Module } from '@nestjs/common';
import { ArchiveEndpointHandler } from './archive-endpoint/archive-endpoint.handler';
import { ArchiveEndpointHttpController } from './archive-endpoint/archive-endpoint.http.controller';
import { ClearHintsHandler } from './clear-hints/clear-hints.handler';
import { ClearHintsHttpController } from './clear-hints/clear-hints.http.controller';
import { CreateEndpointHandler } from './create-endpoint/create-endpoint.handler';
import { CreateEndpointHttpController } from './create-endpoint/create-endpoint.http.controller';
import { GetEndpointHttpController } from './get-endpoint/get-endpoint.http.controller';
import { GetEndpointStateHttpController } from './get-endpoint-state/get-endpoint-state.http.controller';
import { ListAnalysesHttpController } from './list-analyses/list-analyses.http.controller';
import { ListEndpointsHttpController } from './list-endpoints/list-endpoints.http.controller';
import { PauseEndpointHandler } from './pause-endpoint/pause-endpoint.handler';
import { PauseEndpointHttpController } from './pause-endpoint/pause-endpoint.http.controller';
import { ProposeHintHandler } from './propose-hint/propose-hint.handler';
import { ProposeHintHttpController } from './propose-hint/propose-hint.http.controller';
import { ResetFailuresHandler } from './reset-failures/reset-failures.handler';
import { ResetFailuresHttpController } from './reset-failures/reset-failures.http.controller';
import { ResumeEndpointHandler } from './resume-endpoint/resume-endpoint.handler';
import { ResumeEndpointHttpController } from './resume-endpoint/resume-endpoint.http.controller';
import { secretBoxProvider } from './secret-box.provider';
import { TriggerEndpointHandler } from './trigger-endpoint/trigger-endpoint.handler';
import { TriggerEndpointHttpController } from './trigger-endpoint/trigger-endpoint.http.controller';
import { UpdateEndpointHandler } from './update-endpoint/update-endpoint.handler';
import { UpdateEndpointHttpController } from './update-endpoint/update-endpoint.http.controller';

const httpControllers = [
  CreateEndpointHttpController,
  ListEndpointsHttpController,
  GetEndpointHttpController,
  GetEndpointStateHttpController,
  ListAnalysesHttpController,
  UpdateEndpointHttpController,
  ArchiveEndpointHttpController,
  PauseEndpointHttpController,
  ResumeEndpointHttpController,
  TriggerEndpointHttpController,
  ResetFailuresHttpController,
  ProposeHintHttpController,
  ClearHintsHttpController,
];

const commandHandlers = [
  CreateEndpointHandler,
  UpdateEndpointHandler,
  PauseEndpointHandler,
  ResumeEndpointHandler,
  ArchiveEndpointHandler,
  ResetFailuresHandler,
  TriggerEndpointHandler,
  ProposeHintHandler,
  ClearHintsHandler,
];

/** Endpoints of a job: configuration, pauses, manual runs, hints, and replay (`state?asOf`). */
@Module({
  controllers: [...httpControllers],
  providers: [secretBoxProvider, ...commandHandlers],
})
export class EndpointsModule {}
