import { Module } from '@nestjs/common';
import { ArchiveJobHandler } from './archive-job/archive-job.handler';
import { ArchiveJobHttpController } from './archive-job/archive-job.http.controller';
import { CreateJobHandler } from './create-job/create-job.handler';
import { CreateJobHttpController } from './create-job/create-job.http.controller';
import { GetJobHttpController } from './get-job/get-job.http.controller';
import { ListJobsHttpController } from './list-jobs/list-jobs.http.controller';
import { PauseJobHandler } from './pause-job/pause-job.handler';
import { PauseJobHttpController } from './pause-job/pause-job.http.controller';
import { ResumeJobHandler } from './resume-job/resume-job.handler';
import { ResumeJobHttpController } from './resume-job/resume-job.http.controller';
import { UpdateJobHandler } from './update-job/update-job.handler';
import { UpdateJobHttpController } from './update-job/update-job.http.controller';

const httpControllers = [
  CreateJobHttpController,
  ListJobsHttpController,
  GetJobHttpController,
  UpdateJobHttpController,
  ArchiveJobHttpController,
  PauseJobHttpController,
  ResumeJobHttpController,
];

const commandHandlers = [
  CreateJobHandler,
  UpdateJobHandler,
  PauseJobHandler,
  ResumeJobHandler,
  ArchiveJobHandler,
];

/** `/v1/jobs`: create, list, read, change, pause, resume and archive jobs. */
@Module({
  controllers: [...httpControllers],
  providers: [...commandHandlers],
})
export class JobsModule {}
