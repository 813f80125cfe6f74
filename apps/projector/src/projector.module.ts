import { Module } from '@nestjs/common';
import { CoreModule } from '@cronicorn/platform';
import { ProjectorService } from './projector.service';

@Module({
  imports: [CoreModule.forRoot('projector')],
  providers: [ProjectorService],
})
export class ProjectorModule {}
