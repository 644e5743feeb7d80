import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/** Outside production, a secret is generated once and kept under DATA_DIR so tokens survive restarts. */
export function developmentJwtSecret(dataDir: string): string {
  const file = path.resolve(dataDir, 'jwt-secret');
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  fs.writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
