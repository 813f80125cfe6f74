import { Module } from '@nestjs/common';
import { DescribeCronHttpController } from './describe-cron/describe-cron.http.controller';

const httpControllers = [DescribeCronHttpController];

@Module({ controllers: [...httpControllers] })
export class CronModule {}
