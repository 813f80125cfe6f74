import { ApiPropertyOptional } from '@nestjs/swagger';
import { ALL_EVENT_TYPES } from '@cronicorn/events';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, ValidateBy } from 'class-validator';
import { IsEventPosition } from '../../common/event-position';
import { QueryInt } from '../../resources/request-validation';

export const MAX_EVENTS_PAGE = 500;
export const DEFAULT_EVENTS_PAGE = 100;

const unknownTypes = (list: string) =>
  list.split(',').filter((type) => !(ALL_EVENT_TYPES as readonly string[]).includes(type));

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
    description: 'Only these event types (comma-separated); an unknown type answers 400',
    example: 'JobCreated,JobPaused',
  })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9.]+(,[A-Za-z0-9.]+)*$/, { message: 'must be event type names separated by commas' })
  // A misspelt type would match nothing: an empty answer, after reading the whole log for it.
  @ValidateBy({
    name: 'isKnownEventTypeList',
    validator: {
      validate: (value: unknown) => typeof value !== 'string' || unknownTypes(value).length === 0,
      defaultMessage: (args) => `has unknown event types: ${unknownTypes(String(args?.value)).join(', ')}`,
    },
  })
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
