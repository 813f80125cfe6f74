import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class DescribeCronResponseDto {
  @ApiProperty({ example: true })
  valid!: boolean;

  @ApiPropertyOptional({ example: 'At 09:00, Monday through Friday' })
  description?: string;

  @ApiPropertyOptional({
    type: [String],
    description:
      'Next fire times after now, ISO 8601 UTC instants: up to `count` of them within the next ten years (fewer for an expression that fires more rarely)',
    example: ['2025-03-11T08:00:00.000Z', '2025-03-12T08:00:00.000Z'],
  })
  nextTimes?: string[];

  @ApiPropertyOptional({
    description: 'Why the expression is invalid',
    example: 'expected 5 fields …, got 3',
  })
  error?: string;
}
