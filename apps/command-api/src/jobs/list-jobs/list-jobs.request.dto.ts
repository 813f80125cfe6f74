import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn } from 'class-validator';
import type { JobStatusView } from '@cronicorn/read-models';
import { PageQueryDto } from '../../resources/pagination.request.dto';
import { ValidateIfPresent } from '../../resources/request-validation';

export class ListJobsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    enum: ['active', 'paused', 'archived'],
    description: 'Only jobs in this status; archived jobs are listed only when asked for.',
    example: 'paused',
  })
  @ValidateIfPresent()
  @IsIn(['active', 'paused', 'archived'], { message: 'status must be one of active, paused, archived' })
  readonly status?: JobStatusView;
}
