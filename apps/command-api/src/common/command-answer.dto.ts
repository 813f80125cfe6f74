import { ApiProperty } from '@nestjs/swagger';

/**
 * Swagger shape of a 201/202 command answer. The body also carries `<kind>Id` (`jobId`,
 * `endpointId`, …) equal to `id`; routes document their own subclass with it.
 */
export class CommandAnswerDto {
  @ApiProperty({ description: 'Id of the aggregate the command addressed', example: '7d1e0f4a-…' })
  id!: string;

  @ApiProperty({
    type: String,
    nullable: true,
    description:
      'Global position of the last event written (also in `x-position`); null when nothing changed',
    example: '1042',
  })
  position!: string | null;
}
