import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, IsUrl, MaxLength } from 'class-validator';
import { ENDPOINT_LIMITS } from '@cronicorn/domain';
import { IsCleanText, ValidateIfPresent } from '../../resources/request-validation';
import { EndpointSettingsDto, URL_OPTIONS } from '../endpoint-settings.request.dto';

/**
 * `PATCH /v1/endpoints/:id`: fields left out keep their value. At most one of cron (and/or
 * timezone), intervalMs, runAt; `{timezone}` alone moves a cron to another zone.
 */
export class UpdateEndpointRequestDto extends EndpointSettingsDto {
  @ApiPropertyOptional({ maxLength: ENDPOINT_LIMITS.maxNameLength, example: 'Send dunning e-mails (EU)' })
  @ValidateIfPresent()
  @IsString()
  @MaxLength(ENDPOINT_LIMITS.maxNameLength)
  @IsCleanText()
  readonly name?: string;

  @ApiPropertyOptional({
    description:
      'Target, http or https, without a user name or password (send credentials in `secretHeaders`, e.g. `Authorization`).',
    maxLength: ENDPOINT_LIMITS.maxUrlLength,
    example: 'https://billing.example.com/hooks/dunning?region=eu',
  })
  @ValidateIfPresent()
  @IsString()
  @MaxLength(ENDPOINT_LIMITS.maxUrlLength)
  @IsUrl(URL_OPTIONS, { message: 'url must be an absolute http or https URL' })
  @IsCleanText()
  readonly url?: string;
}
