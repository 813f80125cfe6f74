import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';

export interface KeptSecret {
  value: string;
  /** Where it is kept, or null when it came from the environment. */
  file: string | null;
  created: boolean;
}

/**
 * The environment's value if set, else the one kept in `file`, else a new one written to
 * `file` readable by the owner only. Reusing the file keeps keys stable across restarts; a kept
 * file that others can read (copied, restored from a backup) is made private again.
 */
export function keptSecret(fromEnv: string | undefined, file: string, generate: () => string): KeptSecret {
  if (fromEnv) return { value: fromEnv, file: null, created: false };
  if (existsSync(file)) {
    const value = readFileSync(file, 'utf8').trim();
    if (value) {
      if (statSync(file).mode & 0o077) chmodSync(file, 0o600);
      return { value, file, created: false };
    }
  }
  const value = generate();
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { value, file, created: true };
}

export const generateAdminKey = () => `ck_admin_${randomBytes(32).toString('base64url')}`;
