import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { PG_POOL } from '@cronicorn/platform';
import type { Pool, PoolClient } from 'pg';

/** Tenant keys look like `ck_live_<43 base64url chars>` (32 random bytes). */
export const API_KEY_PREFIX = 'ck_live_';
const DISPLAY_PREFIX_LENGTH = API_KEY_PREFIX.length + 6;

export interface GeneratedApiKey {
  /** The key itself: shown once, never stored. */
  apiKey: string;
  keyHash: string;
  /** The first characters, safe to show in lists (`ck_live_Ab3xYz`). */
  prefix: string;
}

export function generateApiKey(): GeneratedApiKey {
  const apiKey = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { apiKey, keyHash: hashApiKey(apiKey), prefix: apiKey.slice(0, DISPLAY_PREFIX_LENGTH) };
}

/** SHA-256 (hex): keys are 256-bit random, so a fast hash is enough to make a leak useless. */
export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}

export interface ApiKeyRow {
  keyId: string;
  tenantId: string;
  name: string;
  prefix: string;
  createdAt: string;
  revokedAt: string | null;
}

interface Row {
  key_id: string;
  tenant_id: string;
  name: string;
  prefix: string;
  created_at: Date;
  revoked_at: Date | null;
}

const toApiKey = (row: Row): ApiKeyRow => ({
  keyId: row.key_id,
  tenantId: row.tenant_id,
  name: row.name,
  prefix: row.prefix,
  createdAt: row.created_at.toISOString(),
  revokedAt: row.revoked_at?.toISOString() ?? null,
});

/**
 * Table `api_keys` (migration 0010): the lookup the auth guard runs on every request. It is
 * written in the same transaction as `ApiKeyIssued` / `ApiKeyRevoked`, so a key works, and a
 * revoked key stops working, the moment the command commits; no projector lag.
 */
@Injectable()
export class ApiKeyRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** The active key with this hash, or null (unknown or revoked). */
  async findActive(keyHash: string): Promise<{ keyId: string; tenantId: string } | null> {
    const { rows } = await this.pool.query<{ key_id: string; tenant_id: string }>(
      'SELECT key_id, tenant_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL',
      [keyHash],
    );
    return rows.length ? { keyId: rows[0].key_id, tenantId: rows[0].tenant_id } : null;
  }

  async insert(
    client: PoolClient,
    key: {
      keyHash: string;
      keyId: string;
      tenantId: string;
      name: string;
      prefix: string;
      createdAt: string;
    },
  ): Promise<void> {
    await client.query(
      `INSERT INTO api_keys (key_hash, key_id, tenant_id, name, prefix, created_at)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key_hash) DO NOTHING`,
      [key.keyHash, key.keyId, key.tenantId, key.name, key.prefix, key.createdAt],
    );
  }

  async revoke(client: PoolClient, tenantId: string, keyId: string, revokedAt: string): Promise<void> {
    await client.query(
      'UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND key_id = $2 AND revoked_at IS NULL',
      [tenantId, keyId, revokedAt],
    );
  }

  async list(tenantId: string): Promise<ApiKeyRow[]> {
    const { rows } = await this.pool.query<Row>(
      `SELECT key_id, tenant_id, name, prefix, created_at, revoked_at FROM api_keys
        WHERE tenant_id = $1 ORDER BY created_at, key_id`,
      [tenantId],
    );
    return rows.map(toApiKey);
  }
}
