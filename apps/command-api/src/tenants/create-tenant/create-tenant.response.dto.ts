import { ApiProperty } from '@nestjs/swagger';

export class CreateTenantResponseDto {
  @ApiProperty({ example: '3f0c8a9e-6a41-4d1f-9a35-0c2b1f7d9e10' })
  id!: string;

  @ApiProperty({ example: '3f0c8a9e-6a41-4d1f-9a35-0c2b1f7d9e10' })
  tenantId!: string;

  @ApiProperty({
    description: 'The tenant\u2019s first API key. Shown once: only its hash is stored.',
    example: 'ck_live_Q2hhbmdlTWU6dGhpcyBpcyBub3QgYSByZWFsIGtleQ',
  })
  apiKey!: string;

  @ApiProperty({ example: '0b7f4c2e-5d7a-4e0b-8a61-2d9f3c1e4b55' })
  keyId!: string;

  @ApiProperty({ description: 'Global position of the last event written', example: '42' })
  position!: string;
}
