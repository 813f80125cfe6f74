import { ApiProperty } from '@nestjs/swagger';
import { IsString, IsUrl, MaxLength } from 'class-validator';
import { ENDPOINT_LIMITS } from '@cronicorn/domain';
import { IsCleanText } from '../../resources/request-validation';
import { EndpointSettingsDto, URL_OPTIONS } from '../endpoint-settings.request.dto';

/** `POST /v1/jobs/:jobId/endpoints`: exactly one of cron, intervalMs, runAt. */
export class CreateEndpointRequestDto extends EndpointSettingsDto {
  @ApiProperty({ maxLength: ENDPOINT_LIMITS.maxNameLength, example: 'Send dunning e-mails' })
  @IsString()
  @MaxLength(ENDPOINT_LIMITS.maxNameLength)
  @IsCleanText()
  readonly name!: string;

  @ApiProperty({
    description: 'Target, http or https.',
    maxLength: ENDPOINT_LIMITS.maxUrlLength,
    example: 'https://billing.example.com/hooks/dunning',
  })
  @IsString()
  @MaxLength(ENDPOINT_LIMITS.maxUrlLength)
  @IsUrl(URL_OPTIONS, { message: 'url must be an absolute http or https URL' })
  readonly url!: string;
}
