import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';
import { JOB_LIMITS } from '@cronicorn/domain';
import { IsCleanText, ValidateIfPresent, ValidateUnlessAbsent } from '../../resources/request-validation';

/** Fields left out keep their value; `description: null` clears the description. */
export class UpdateJobRequestDto {
  @ApiPropertyOptional({ maxLength: JOB_LIMITS.maxNameLength, example: 'Nightly billing (EU)' })
  @ValidateIfPresent()
  @IsString()
  @MaxLength(JOB_LIMITS.maxNameLength)
  @IsCleanText()
  readonly name?: string;

  @ApiPropertyOptional({
    maxLength: JOB_LIMITS.maxDescriptionLength,
    nullable: true,
    type: String,
    description: 'null clears it.',
    example: 'Invoices for the EU entity',
  })
  @ValidateUnlessAbsent()
  @IsString()
  @MaxLength(JOB_LIMITS.maxDescriptionLength)
  @IsCleanText({ singleLine: false, visible: false })
  readonly description?: string | null;
}
