import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsUUID } from 'class-validator';
import type { EndpointStatusView } from '@cronicorn/read-models';
import { PageQueryDto } from '../../resources/pagination.request.dto';
import { ValidateIfPresent } from '../../resources/request-validation';

export class ListEndpointsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    format: 'uuid',
    description: 'Only the endpoints of this job',
    example: '0b6e3c1e-3c2f-4f0e-9a59-5b7f3d1c2a10',
  })
  @ValidateIfPresent()
  @IsUUID('all', { message: 'jobId must be a job id (uuid)' })
  readonly jobId?: string;

  @ApiPropertyOptional({
    enum: ['active', 'paused', 'archived'],
    description: 'Only endpoints in this (own) status; archived endpoints are listed only when asked for.',
    example: 'active',
  })
  @ValidateIfPresent()
  @IsIn(['active', 'paused', 'archived'], { message: 'status must be one of active, paused, archived' })
  readonly status?: EndpointStatusView;
}
