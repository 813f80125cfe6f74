import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';
import { JOB_LIMITS } from '@cronicorn/domain';
import { IsCleanText, ValidateUnlessAbsent } from '../../resources/request-validation';

export class CreateJobRequestDto {
  @ApiProperty({
    description: 'Shown in lists and to the AI planner.',
    maxLength: JOB_LIMITS.maxNameLength,
    example: 'Nightly billing',
  })
  @IsString()
  @MaxLength(JOB_LIMITS.maxNameLength)
  @IsCleanText()
  readonly name!: string;

  @ApiPropertyOptional({
    description: 'What the job is for; the AI planner reads it as context.',
    maxLength: JOB_LIMITS.maxDescriptionLength,
    nullable: true,
    type: String,
    example: 'Invoices, dunning and payment reconciliation',
  })
  @ValidateUnlessAbsent()
  @IsString()
  @MaxLength(JOB_LIMITS.maxDescriptionLength)
  @IsCleanText({ singleLine: false, visible: false })
  readonly description?: string | null;
}
