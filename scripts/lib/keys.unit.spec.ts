import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keptSecret } from './keys';

describe('keptSecret', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'cronicorn-keys-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const modeOf = (file: string) => statSync(file).mode & 0o777;

  it('should generate a key readable by the owner only, then reuse it', () => {
    const file = join(dir, 'admin-api-key');
    const first = keptSecret(undefined, file, () => 'k1');
    expect(first).toEqual({ value: 'k1', file, created: true });
    expect(modeOf(file)).toBe(0o600);
    expect(keptSecret(undefined, file, () => 'k2')).toEqual({ value: 'k1', file, created: false });
  });

  it('should take the environment value and write nothing', () => {
    const file = join(dir, 'secrets-key');
    expect(keptSecret('from-env', file, () => 'k')).toEqual({
      value: 'from-env',
      file: null,
      created: false,
    });
    expect(() => statSync(file)).toThrow();
  });

  it('should make a kept key that others can read private again when reusing it', () => {
    const file = join(dir, 'admin-api-key');
    writeFileSync(file, 'old\n');
    chmodSync(file, 0o644);
    expect(keptSecret(undefined, file, () => 'new').value).toBe('old');
    expect(modeOf(file)).toBe(0o600);
  });
});
