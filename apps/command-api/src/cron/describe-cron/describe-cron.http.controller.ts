import { Controller, Get, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { cronTimesBetween, describeCron, validateCron, validateTimezone } from '@cronicorn/domain';
import { TenantAuth } from '../../auth/auth.decorators';
import { badInput } from '../../common/api-error';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { ReadsFrom } from '../../common/min-position.interceptor';
import { DescribeCronQueryDto } from './describe-cron.request.dto';
import { DescribeCronResponseDto } from './describe-cron.response.dto';

const DEFAULT_PREVIEW = 5;
/**
 * How far ahead the preview looks. Finding a time costs in proportion to the span searched: 50
 * leap days (`0 0 29 2 *`) took 300 ms of the API's one thread; ten years take a few ms.
 */
const PREVIEW_HORIZON_YEARS = 10;

@ApiTags('cron')
@Controller('v1/cron')
@TenantAuth()
export class DescribeCronHttpController {
  /**
   * An invalid expression is an answer (`valid: false`), not an error: this route exists to
   * check expressions. An unknown time zone is a bad request (400 naming `timezone`).
   */
  @Get('describe')
  @ReadsFrom('inline')
  @ApiOperation({ summary: 'Check a cron expression: description and next fire times' })
  @ApiOkResponse({ type: DescribeCronResponseDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'Unknown time zone, or count out of range' })
  describe(@Query() query: DescribeCronQueryDto): DescribeCronResponseDto {
    const timezone = query.timezone ?? 'UTC';
    const zoneProblem = validateTimezone(timezone);
    if (zoneProblem) throw badInput({ timezone: zoneProblem });
    const problem = validateCron(query.expr);
    if (problem) return { valid: false, error: problem };
    const now = new Date();
    const horizon = new Date(now);
    horizon.setUTCFullYear(horizon.getUTCFullYear() + PREVIEW_HORIZON_YEARS);
    const nextTimes = cronTimesBetween(query.expr, timezone, now, horizon, query.count ?? DEFAULT_PREVIEW);
    return {
      valid: true,
      description: describeCron(query.expr) ?? query.expr.trim(),
      nextTimes: nextTimes.map((time) => time.toISOString()),
    };
  }
}
