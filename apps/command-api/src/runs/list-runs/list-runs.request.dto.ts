import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn } from 'class-validator';
import type { RunStatusView } from '@cronicorn/read-models';
import { PageQueryDto } from '../../resources/pagination.request.dto';
import { ValidateIfPresent } from '../../resources/request-validation';
import { RUN_STATUSES } from '../run.response.dto';

export class ListRunsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: RUN_STATUSES, example: 'failed' })
  @ValidateIfPresent()
  @IsIn(RUN_STATUSES, { message: `status must be one of ${RUN_STATUSES.join(', ')}` })
  readonly status?: RunStatusView;
}
