import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { TENANT_LIMITS } from '@cronicorn/domain';
import { IsCleanText } from '../../resources/request-validation';

export class IssueApiKeyRequestDto {
  @ApiProperty({ example: 'ci-pipeline', maxLength: TENANT_LIMITS.maxKeyNameLength })
  @IsString()
  @IsNotEmpty()
  @MaxLength(TENANT_LIMITS.maxKeyNameLength)
  @IsCleanText()
  name!: string;
}
