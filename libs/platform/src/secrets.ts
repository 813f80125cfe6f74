import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';

const PREFIX = 'enc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;
// A fixed salt is fine here: the salt only has to make the derived key specific to this use;
// SECRETS_KEY itself is expected to be a long random string, not a human password.
const KDF_SALT = 'cronicorn/secret-headers/v1';

/** A token could not be decrypted: malformed, tampered with, or encrypted under another key. */
export class SecretDecryptionError extends Error {
  readonly code = 'SECRETS.DECRYPT_FAILED';
  constructor(reason: string) {
    super(`cannot decrypt secret: ${reason}`);
    this.name = 'SecretDecryptionError';
  }
}

/** True when `value` has the shape of a token produced by {@link SecretBox.encrypt}. */
export function isEncrypted(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(PREFIX);
}

/**
 * Encrypts secret header values at rest (DESIGN §8) with AES-256-GCM.
 * Token format: `enc:v1:<iv>.<tag>.<ciphertext>`, each part base64url. The GCM tag makes any
 * change to a token, or a token from another key, fail to decrypt instead of yielding garbage.
 */
export class SecretBox {
  private readonly key: Buffer;

  /** `key` must be 32 bytes; use {@link SecretBox.fromSecret} for a `SECRETS_KEY` string. */
  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('SecretBox key must be 32 bytes');
    this.key = Buffer.from(key);
  }

  /** Derives the key from a `SECRETS_KEY` string with scrypt. */
  static fromSecret(secret: string): SecretBox {
    if (secret.length === 0) throw new Error('SECRETS_KEY must not be empty');
    return new SecretBox(scryptSync(secret, KDF_SALT, 32));
  }

  /** A fresh random secret suitable for `SECRETS_KEY` (for launchers that generate one). */
  static generateSecret(): string {
    return randomBytes(32).toString('base64url');
  }

  static isEncrypted(value: unknown): value is string {
    return isEncrypted(value);
  }

  encrypt(plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return `${PREFIX}${iv.toString('base64url')}.${tag.toString('base64url')}.${ciphertext.toString('base64url')}`;
  }

  decrypt(token: string): string {
    if (!isEncrypted(token)) throw new SecretDecryptionError('not an enc:v1 token');
    const parts = token.slice(PREFIX.length).split('.');
    if (parts.length !== 3) throw new SecretDecryptionError('malformed token');
    const [iv, tag, ciphertext] = parts.map((part) => Buffer.from(part, 'base64url'));
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES)
      throw new SecretDecryptionError('malformed token');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretDecryptionError('authentication failed (wrong key or tampered token)');
    }
  }

  /** Encrypts every value; values that are already tokens are kept, so this is idempotent. */
  encryptValues(record: Readonly<Record<string, string>>): Record<string, string> {
    return mapValues(record, (value) => (isEncrypted(value) ? value : this.encrypt(value)));
  }

  /** Decrypts every value; a value that is not a token is an error, never passed through. */
  decryptValues(record: Readonly<Record<string, string>>): Record<string, string> {
    return mapValues(record, (value) => this.decrypt(value));
  }
}

function mapValues(
  record: Readonly<Record<string, string>>,
  fn: (value: string) => string,
): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([name, value]) => [name, fn(value)]));
}
