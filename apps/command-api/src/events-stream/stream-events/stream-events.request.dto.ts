import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { IsEventPosition } from '../../common/event-position';

export class StreamEventsQueryDto {
  @ApiPropertyOptional({
    description:
      'Send the events after this position first (an event\u2019s `position` / SSE `id`), then new ones. ' +
      '`0` replays the whole log. Absent: only events that commit from now on. ' +
      'A `Last-Event-ID` header (sent by EventSource when it reconnects) takes precedence.',
    example: '1042',
  })
  @IsOptional()
  @IsEventPosition()
  after?: string;
}
