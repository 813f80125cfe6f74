import { isEncrypted, SecretBox, SecretDecryptionError } from './secrets';

describe('SecretBox', () => {
  const box = SecretBox.fromSecret('test-secret-key');

  it('should round-trip a value through an enc:v1 token', () => {
    const token = box.encrypt('Bearer s3cr3t ✓');

    expect(token).toMatch(/^enc:v1:[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(token).not.toContain('s3cr3t');
    expect(box.decrypt(token)).toBe('Bearer s3cr3t ✓');
  });

  it('should round-trip an empty string', () => {
    expect(box.decrypt(box.encrypt(''))).toBe('');
  });

  it('should use a fresh IV for every encryption', () => {
    expect(box.encrypt('same')).not.toBe(box.encrypt('same'));
  });

  it('should derive the same key from the same secret', () => {
    expect(SecretBox.fromSecret('test-secret-key').decrypt(box.encrypt('x'))).toBe('x');
  });

  it('should reject a token whose ciphertext was tampered with', () => {
    const token = box.encrypt('value');
    const [iv, tag, ciphertext] = token.slice('enc:v1:'.length).split('.');
    const flipped = Buffer.from(ciphertext, 'base64url');
    flipped[0] ^= 1;
    const tampered = `enc:v1:${iv}.${tag}.${flipped.toString('base64url')}`;

    expect(() => box.decrypt(tampered)).toThrow(SecretDecryptionError);
  });

  it('should reject a token whose tag was tampered with', () => {
    const token = box.encrypt('value');
    const [iv, tag, ciphertext] = token.slice('enc:v1:'.length).split('.');
    const flipped = Buffer.from(tag, 'base64url');
    flipped[flipped.length - 1] ^= 1;

    expect(() => box.decrypt(`enc:v1:${iv}.${flipped.toString('base64url')}.${ciphertext}`)).toThrow(
      SecretDecryptionError,
    );
  });

  it('should reject a token encrypted under another key', () => {
    const other = SecretBox.fromSecret('another-key');

    expect(() => other.decrypt(box.encrypt('value'))).toThrow(SecretDecryptionError);
  });

  it('should reject malformed tokens and plain text', () => {
    expect(() => box.decrypt('plain')).toThrow(SecretDecryptionError);
    expect(() => box.decrypt('enc:v1:abc')).toThrow(SecretDecryptionError);
    expect(() => box.decrypt('enc:v1:a.b.c')).toThrow(SecretDecryptionError);
  });

  it('should accept a raw 32-byte key and refuse other lengths', () => {
    const raw = new SecretBox(Buffer.alloc(32, 7));

    expect(raw.decrypt(raw.encrypt('k'))).toBe('k');
    expect(() => new SecretBox(Buffer.alloc(16))).toThrow();
  });

  it('should encrypt and decrypt every value of a record, keeping tokens as they are', () => {
    const already = box.encrypt('kept');
    const encrypted = box.encryptValues({ authorization: 'Bearer a', 'x-api-key': 'b', 'x-old': already });

    expect(Object.values(encrypted).every((value) => isEncrypted(value))).toBe(true);
    expect(encrypted['x-old']).toBe(already);
    expect(box.decryptValues(encrypted)).toEqual({
      authorization: 'Bearer a',
      'x-api-key': 'b',
      'x-old': 'kept',
    });
  });

  it('should refuse to pass a plain value through decryptValues', () => {
    expect(() => box.decryptValues({ authorization: 'Bearer a' })).toThrow(SecretDecryptionError);
  });

  it('should tell tokens from other values', () => {
    expect(SecretBox.isEncrypted(box.encrypt('v'))).toBe(true);
    expect(isEncrypted('Bearer v')).toBe(false);
    expect(isEncrypted(42)).toBe(false);
  });

  it('should generate distinct usable secrets', () => {
    const secret = SecretBox.generateSecret();

    expect(secret).not.toBe(SecretBox.generateSecret());
    expect(secret.length).toBeGreaterThanOrEqual(40);
    expect(SecretBox.fromSecret(secret).decrypt(SecretBox.fromSecret(secret).encrypt('v'))).toBe('v');
  });
});
