import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsJsonWithin, KeepRaw, ValidateIfPresent } from '../../resources/request-validation';

/** Largest trigger payload, serialised as JSON: it is copied into every run it starts. */
export const MAX_TRIGGER_PAYLOAD_BYTES = 32 * 1024;

/** `POST /v1/triggers/:name`. */
export class FireTriggerRequestDto {
  @ApiPropertyOptional({
    description: `Any JSON up to ${MAX_TRIGGER_PAYLOAD_BYTES} bytes. Request body templates of the runs read it as {{trigger.payload.<path>}}.`,
    nullable: true,
    oneOf: [
      { type: 'object' },
      { type: 'array', items: {} },
      { type: 'string' },
      { type: 'number' },
      { type: 'boolean' },
    ],
    example: { invoiceId: 'inv_1042', amount: 99.5 },
  })
  @KeepRaw()
  @ValidateIfPresent()
  @IsJsonWithin(MAX_TRIGGER_PAYLOAD_BYTES)
  readonly payload?: unknown;
}
