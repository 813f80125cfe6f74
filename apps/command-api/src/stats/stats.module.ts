import { Module } from '@nestjs/common';
import { GetJobStatsHttpController } from './get-job-stats/get-job-stats.http.controller';
import { GetTenantStatsHttpController } from './get-tenant-stats/get-tenant-stats.http.controller';

const httpControllers = [GetTenantStatsHttpController, GetJobStatsHttpController];

/** Run statistics of the tenant and of one job, from the hourly read model. */
@Module({ controllers: [...httpControllers] })
export class StatsModule {}
