import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsString, IsUrl, MaxLength } from 'class-validator';
import { ENDPOINT_LIMITS } from '@cronicorn/domain';
import { IsCleanText, ValidateIfPresent } from '../../resources/request-validation';
import { EndpointSettingsDto, URL_OPTIONS } from '../endpoint-settings.request.dto';

/** `POST /v1/jobs/:jobId/endpoints`: exactly one of cron, intervalMs, runAt, schedule (a preset). */
export class CreateEndpointRequestDto extends EndpointSettingsDto {
  @ApiProperty({ maxLength: ENDPOINT_LIMITS.maxNameLength, example: 'Send dunning e-mails' })
  @IsString()
  @MaxLength(ENDPOINT_LIMITS.maxNameLength)
  @IsCleanText()
  readonly name!: string;

  @ApiProperty({
    description:
      'Target, http or https, without a user name or password (send credentials in `secretHeaders`, e.g. `Authorization`).',
    maxLength: ENDPOINT_LIMITS.maxUrlLength,
    example: 'https://billing.example.com/hooks/dunning',
  })
  @IsString()
  @MaxLength(ENDPOINT_LIMITS.maxUrlLength)
  @IsUrl(URL_OPTIONS, { message: 'url must be an absolute http or https URL' })
  @IsCleanText()
  readonly url!: string;

  @ApiPropertyOptional({
    description:
      'Create even when an active endpoint of the job has the same method, URL, body and schedule (otherwise 409 ENDPOINT.DUPLICATE). Not stored.',
    default: false,
    example: false,
  })
  @ValidateIfPresent()
  @IsBoolean()
  readonly allowDuplicate?: boolean;
}
