import { Module } from '@nestjs/common';
import { GetRunHttpController } from './get-run/get-run.http.controller';
import { ListRunsHttpController } from './list-runs/list-runs.http.controller';

const httpControllers = [ListRunsHttpController, GetRunHttpController];

/** Runs, read from the runs read model (`POST /v1/runs/:id/retry` comes with its own issue). */
@Module({ controllers: [...httpControllers] })
export class RunsModule {}
