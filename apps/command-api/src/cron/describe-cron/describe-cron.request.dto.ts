import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsNotEmpty, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { QueryInt } from '../../resources/request-validation';

export const MAX_CRON_PREVIEW = 50;

export class DescribeCronQueryDto {
  @ApiProperty({
    description: '5 fields, or 6 with seconds first; @daily-style aliases',
    example: '0 9 * * 1-5',
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  expr!: string;

  @ApiPropertyOptional({ description: 'IANA time zone', default: 'UTC', example: 'Europe/Berlin' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  timezone?: string;

  @ApiPropertyOptional({
    description: 'How many next times to list',
    minimum: 1,
    maximum: MAX_CRON_PREVIEW,
    default: 5,
  })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(MAX_CRON_PREVIEW)
  count?: number;
}
