import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  IsArray,
  IsIn,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  MinLength,
} from 'class-validator';
import { ALL_EVENT_TYPES_WILDCARD, SUBSCRIPTION_LIMITS } from '@cronicorn/domain';
import { ALL_EVENT_TYPES } from '@cronicorn/events';
import { IsCleanText } from '../../resources/request-validation';

const EVENT_TYPE_NAMES = [ALL_EVENT_TYPES_WILDCARD, ...ALL_EVENT_TYPES];

export class CreateSubscriptionRequestDto {
  @ApiProperty({
    description:
      'Where events are POSTed (http or https, without a user name or password: receivers check the signature). The dispatcher\u2019s SSRF guard applies.',
    example: 'https://hooks.example.com/cronicorn',
    maxLength: SUBSCRIPTION_LIMITS.maxUrlLength,
  })
  @IsString()
  @MaxLength(SUBSCRIPTION_LIMITS.maxUrlLength)
  @Matches(/^https?:\/\//i, { message: 'must be an http or https URL' })
  @IsCleanText()
  url!: string;

  @ApiProperty({
    description: 'Event types to deliver (names from the catalogue), or `*` for all',
    type: [String],
    enum: EVENT_TYPE_NAMES,
    example: ['RunFinished'],
  })
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(SUBSCRIPTION_LIMITS.maxEventTypes)
  @IsString({ each: true })
  @IsIn(EVENT_TYPE_NAMES, { each: true, message: 'must contain event type names from the catalogue or "*"' })
  eventTypes!: string[];

  @ApiPropertyOptional({
    description:
      'Signing secret (16–256 characters). Generated when absent; either way it is returned once, in this answer only.',
    example: 'whsec_3q2+7w==a-long-random-string',
  })
  @IsOptional()
  @IsString()
  @MinLength(16)
  @MaxLength(256)
  // Receivers sign the UTF-8 bytes: a lone surrogate has none, a control character rarely survives config files.
  @IsCleanText({ visible: false })
  secret?: string;
}
