import { ApiProperty } from '@nestjs/swagger';
import { IsIsoInstant } from '../../resources/request-validation';

export class EndpointStateQueryDto {
  @ApiProperty({
    description:
      'The instant to replay up to (ISO 8601 with an offset); events that occurred later are left out.',
    format: 'date-time',
    example: '2025-03-01T09:00:00Z',
  })
  @IsIsoInstant()
  readonly asOf!: string;
}
