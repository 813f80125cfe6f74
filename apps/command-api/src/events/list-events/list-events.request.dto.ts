import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { IsEventPosition } from '../../common/event-position';
import { QueryInt } from '../../resources/request-validation';

export const MAX_EVENTS_PAGE = 500;
export const DEFAULT_EVENTS_PAGE = 100;

export class ListEventsQueryDto {
  @ApiPropertyOptional({
    description: 'Only this stream',
    example: 'job-7d1e0f4a-2b1c-4c55-9d3e-8f0a1b2c3d4e',
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @Matches(/^[A-Za-z0-9._:-]+$/, { message: 'must be a stream id such as job-<uuid>' })
  streamId?: string;

  @ApiPropertyOptional({
    description: 'Only these event types (comma-separated)',
    example: 'JobCreated,JobPaused',
  })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9.]+(,[A-Za-z0-9.]+)*$/, { message: 'must be event type names separated by commas' })
  type?: string;

  @ApiPropertyOptional({
    description:
      'A position from a previous page (`nextAfter` or an event\u2019s `position`): continue after it. `0`: from the start',
    example: '1042',
  })
  @IsOptional()
  @IsEventPosition()
  after?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_EVENTS_PAGE, default: DEFAULT_EVENTS_PAGE })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(MAX_EVENTS_PAGE)
  limit?: number;
}
