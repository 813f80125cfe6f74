import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsString, Max, MaxLength, Min } from 'class-validator';
import { REQUEST_LIMITS } from './limits';
import { ValidateIfPresent, QueryInt } from './request-validation';

/** `?limit=&cursor=` of every list. */
export class PageQueryDto {
  @ApiPropertyOptional({
    description: 'Page size.',
    minimum: 1,
    maximum: REQUEST_LIMITS.maxPageSize,
    default: REQUEST_LIMITS.defaultPageSize,
    example: 20,
  })
  @ValidateIfPresent()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(REQUEST_LIMITS.maxPageSize)
  readonly limit?: number;

  @ApiPropertyOptional({
    description: 'The `nextCursor` of the previous page; opaque.',
    maxLength: REQUEST_LIMITS.maxCursorLength,
    example: 'eyJjIjoiMjAyNS0wMy0wMVQwOTowMDowMFoiLCJpZCI6ImFiYyJ9',
  })
  @ValidateIfPresent()
  @IsString()
  @MaxLength(REQUEST_LIMITS.maxCursorLength)
  readonly cursor?: string;
}
