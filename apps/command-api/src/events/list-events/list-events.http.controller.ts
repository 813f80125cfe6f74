import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { EventStore, LOG_START } from '@cronicorn/event-store';
import { EVENT_STORE } from '@cronicorn/platform';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { badInput } from '../../common/api-error';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { isLogStart } from '../../common/event-position';
import { ReadsFrom } from '../../common/min-position.interceptor';
import { MinPositionHeader } from '../../common/swagger';
import { DEFAULT_EVENTS_PAGE, ListEventsQueryDto } from './list-events.request.dto';
import { ListEventsResponseDto } from './list-events.response.dto';

@ApiTags('events')
@Controller('v1/events')
@TenantAuth()
export class ListEventsHttpController {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  /**
   * Straight from the event store, in commit order (not position order: a smaller position can
   * commit later), and only below the oldest transaction still open, so a reader paging with
   * `after` never skips an event that commits late.
   */
  @Get()
  @ReadsFrom('event-log')
  @MinPositionHeader()
  @ApiOperation({ summary: 'The tenant\u2019s event log (audit), in commit order' })
  @ApiOkResponse({ type: ListEventsResponseDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  async list(
    @Query() query: ListEventsQueryDto,
    @Auth() auth: TenantAuthContext,
  ): Promise<ListEventsResponseDto> {
    const from =
      query.after === undefined || isLogStart(query.after)
        ? LOG_START
        : await this.store.checkpointOfPosition(query.after);
    if (!from) throw badInput({ after: 'is not the position of an event' });
    const options = {
      tenantId: auth.tenantId,
      streamId: query.streamId,
      types: query.type?.split(','),
      limit: query.limit ?? DEFAULT_EVENTS_PAGE,
    };
    // A filtered read looks at a window of the log per call: read on until a page has events.
    let page = await this.store.readAll(from, options);
    while (page.events.length === 0 && page.more) page = await this.store.readAll(page.checkpoint, options);
    const { events } = page;
    const nextAfter = events.length ? events[events.length - 1].position : (query.after ?? null);
    return { events, nextAfter };
  }
}
