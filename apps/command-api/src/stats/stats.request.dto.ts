import { ApiPropertyOptional } from '@nestjs/swagger';
import { badInput } from '../common/api-error';
import { IsIsoInstant, ValidateIfPresent } from '../resources/request-validation';

/** The default window: the last 24 hours. */
export const DEFAULT_STATS_WINDOW_MS = 24 * 3_600_000;
/** The longest window one request may cover. */
export const MAX_STATS_WINDOW_DAYS = 90;
const MAX_STATS_WINDOW_MS = MAX_STATS_WINDOW_DAYS * 24 * 3_600_000;
/** The window is widened to whole hours; its end must stay a four-digit year. */
const LAST_STATS_HOUR = Date.parse('9999-12-31T23:00:00Z');

/** `?from=&to=` of the stats routes. */
export class StatsQueryDto {
  @ApiPropertyOptional({
    description: 'Start of the window (ISO 8601 with an offset); default 24 h before `to`',
    format: 'date-time',
    example: '2025-03-01T00:00:00Z',
  })
  @ValidateIfPresent()
  @IsIsoInstant()
  readonly from?: string;

  @ApiPropertyOptional({
    description: `End of the window, after \`from\` and at most ${MAX_STATS_WINDOW_DAYS} days later; default now`,
    format: 'date-time',
    example: '2025-03-02T00:00:00Z',
  })
  @ValidateIfPresent()
  @IsIsoInstant()
  readonly to?: string;
}

/** The window a query asks for, with its defaults; 400 naming `to` or `from` when it is not usable. */
export function statsWindow(query: StatsQueryDto, now: Date): { from: Date; to: Date } {
  const to = query.to === undefined ? now : new Date(query.to);
  const from =
    query.from === undefined ? new Date(to.getTime() - DEFAULT_STATS_WINDOW_MS) : new Date(query.from);
  if (to.getTime() > LAST_STATS_HOUR) throw badInput({ to: 'must be at most 9999-12-31T23:00:00Z' });
  if (to.getTime() <= from.getTime()) throw badInput({ to: 'must be after from' });
  if (to.getTime() - from.getTime() > MAX_STATS_WINDOW_MS) {
    throw badInput({
      [query.from === undefined ? 'to' : 'from']:
        `must be at most ${MAX_STATS_WINDOW_DAYS} days from the other end of the window`,
    });
  }
  return { from, to };
}
