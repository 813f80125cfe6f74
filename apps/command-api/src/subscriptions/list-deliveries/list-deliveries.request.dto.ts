import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { QueryInt } from '../../resources/request-validation';

export const MAX_DELIVERIES_PAGE = 500;
export const DEFAULT_DELIVERIES_PAGE = 100;

export class ListDeliveriesQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_DELIVERIES_PAGE, default: DEFAULT_DELIVERIES_PAGE })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(MAX_DELIVERIES_PAGE)
  limit?: number;
}
