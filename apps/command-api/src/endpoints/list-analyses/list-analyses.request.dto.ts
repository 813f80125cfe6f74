import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn } from 'class-validator';
import { PageQueryDto } from '../../resources/pagination.request.dto';
import { ValidateIfPresent } from '../../resources/request-validation';

export class ListAnalysesQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: ['completed', 'failed'], example: 'completed' })
  @ValidateIfPresent()
  @IsIn(['completed', 'failed'], { message: 'status must be one of completed, failed' })
  readonly status?: 'completed' | 'failed';
}
