import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { TENANT_LIMITS } from '@cronicorn/domain';

export class IssueApiKeyRequestDto {
  @ApiProperty({ example: 'ci-pipeline', maxLength: TENANT_LIMITS.maxKeyNameLength })
  @IsString()
  @IsNotEmpty()
  @MaxLength(TENANT_LIMITS.maxKeyNameLength)
  name!: string;
}
