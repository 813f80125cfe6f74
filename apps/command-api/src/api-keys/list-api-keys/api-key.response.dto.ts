import { ApiProperty } from '@nestjs/swagger';

/** An API key as lists show it: never the key, never its hash. */
export class ApiKeyResponseDto {
  @ApiProperty({ example: '0b7f4c2e-5d7a-4e0b-8a61-2d9f3c1e4b55' })
  id!: string;

  @ApiProperty({ example: 'ci-pipeline' })
  name!: string;

  @ApiProperty({ example: 'ck_live_Q2hhbm' })
  prefix!: string;

  @ApiProperty({ example: '2025-03-10T12:00:00.000Z' })
  createdAt!: string;

  @ApiProperty({ type: String, nullable: true, example: null })
  revokedAt!: string | null;
}

export class ApiKeyListResponseDto {
  @ApiProperty({ type: [ApiKeyResponseDto] })
  apiKeys!: ApiKeyResponseDto[];
}
