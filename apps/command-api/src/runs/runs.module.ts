import { Module } from '@nestjs/common';
import { GetRunHttpController } from './get-run/get-run.http.controller';
import { ListRunsHttpController } from './list-runs/list-runs.http.controller';
import { RetryRunHandler } from './retry-run/retry-run.handler';
import { RetryRunHttpController } from './retry-run/retry-run.http.controller';

const httpControllers = [ListRunsHttpController, GetRunHttpController, RetryRunHttpController];

const commandHandlers = [RetryRunHandler];

/** Runs, read from the runs read model, and their retries. */
@Module({
  controllers: [...httpControllers],
  providers: [...commandHandlers],
})
export class RunsModule {}
