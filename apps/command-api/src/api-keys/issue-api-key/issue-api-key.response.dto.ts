import { ApiProperty } from '@nestjs/swagger';

export class IssueApiKeyResponseDto {
  @ApiProperty({ example: '0b7f4c2e-5d7a-4e0b-8a61-2d9f3c1e4b55' })
  id!: string;

  @ApiProperty({ example: '0b7f4c2e-5d7a-4e0b-8a61-2d9f3c1e4b55' })
  keyId!: string;

  @ApiProperty({
    description: 'The key. Shown once: only its hash is stored.',
    example: 'ck_live_Q2hhbmdlTWU6dGhpcyBpcyBub3QgYSByZWFsIGtleQ',
  })
  apiKey!: string;

  @ApiProperty({ description: 'First characters of the key, shown in lists', example: 'ck_live_Q2hhbm' })
  prefix!: string;

  @ApiProperty({ description: 'Global position of the ApiKeyIssued event', example: '43' })
  position!: string;
}
