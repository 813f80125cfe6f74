import { Controller, Get, Headers, Inject, Query, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import { EventStore, LOG_START, LogCheckpoint } from '@cronicorn/event-store';
import { EVENT_STORE } from '@cronicorn/platform';
import type { Response } from 'express';
import { Auth, TenantAuth } from '../../auth/auth.decorators';
import type { TenantAuthContext } from '../../auth/auth-context';
import { ApiKeyRepository, hashApiKey } from '../../auth/api-key.repository';
import { API_KEY_HEADER } from '../../auth/api-key.strategy';
import { badInput, unauthorized } from '../../common/api-error';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { isEventPosition, isLogStart, NOT_A_POSITION } from '../../common/event-position';
import { ReadsFrom } from '../../common/min-position.interceptor';
import { EventsStreamService } from '../events-stream.service';
import { StreamEventsQueryDto } from './stream-events.request.dto';

const LAST_EVENT_ID = 'last-event-id';

@ApiTags('events')
@Controller('v1/events')
@TenantAuth()
export class StreamEventsHttpController {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly streams: EventsStreamService,
    private readonly keys: ApiKeyRepository,
  ) {}

  @Get('stream')
  @ReadsFrom('event-log')
  @ApiOperation({
    summary: 'Live tail of the tenant\u2019s events (Server-Sent Events)',
    description:
      'Each event is one SSE message: `id:` its global position, `event:` its type, `data:` the envelope JSON ' +
      '(as on NATS). Events come in commit order, without gaps or repeats; reconnect with `Last-Event-ID` ' +
      '(EventSource does) or `?after=` to resume; the stream opens with an `id:` of its starting point. ' +
      'A `: heartbeat` comment is sent every 15 s. The stream ends when its API key is revoked. ' +
      'A tenant may hold at most `API_MAX_STREAMS_PER_TENANT` (default 10) streams open per API replica.',
  })
  @ApiProduces('text/event-stream')
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'Resume after this position (the `id:` of the last message received)',
  })
  @ApiOkResponse({
    description: 'An endless `text/event-stream`',
    content: {
      'text/event-stream': {
        schema: { type: 'string' },
        example:
          'id: 1042\nevent: RunFinished\ndata: {"id":"c2a4…","type":"RunFinished","position":"1042",…}\n\n',
      },
    },
  })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'The position is not one of an event' })
  @ApiTooManyRequestsResponse({
    type: ErrorResponseDto,
    description:
      'The tenant already has its most streams open (`TOO_MANY_STREAMS`: close one first) ' +
      'or the key\u2019s rate limit is exceeded (`RATE_LIMITED`); see Retry-After',
  })
  async stream(
    @Query() query: StreamEventsQueryDto,
    @Headers(LAST_EVENT_ID) lastEventId: string | undefined,
    @Headers(API_KEY_HEADER) apiKey: string,
    @Auth() auth: TenantAuthContext,
    @Res() res: Response,
  ): Promise<void> {
    const from = await this.startingPoint(query.after, lastEventId);
    // A revocation that committed before the starting point was read lies behind it, where the
    // stream would never see its ApiKeyRevoked: the key is checked again now.
    if (!(await this.keys.findActive(hashApiKey(apiKey)))) throw unauthorized();
    await this.streams.serve(auth.tenantId, auth.keyId, from, res);
  }

  private async startingPoint(
    after: string | undefined,
    lastEventId: string | undefined,
  ): Promise<LogCheckpoint> {
    const header = lastEventId?.trim();
    if (header !== undefined && header !== '' && !isEventPosition(header))
      throw badInput({ [LAST_EVENT_ID]: NOT_A_POSITION });
    const position = header || after;
    if (position === undefined) return this.store.headCheckpoint();
    if (isLogStart(position)) return LOG_START;
    const checkpoint = await this.store.checkpointOfPosition(position);
    if (!checkpoint)
      throw badInput({ [header ? LAST_EVENT_ID : 'after']: 'is not the position of an event' });
    return checkpoint;
  }
}
