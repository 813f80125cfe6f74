import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { TENANT_LIMITS } from '@cronicorn/domain';
import { IsCleanText } from '../../resources/request-validation';

export class CreateTenantRequestDto {
  @ApiProperty({ example: 'Acme Corp', maxLength: TENANT_LIMITS.maxNameLength })
  @IsString()
  @IsNotEmpty()
  @MaxLength(TENANT_LIMITS.maxNameLength)
  @IsCleanText()
  name!: string;
}
