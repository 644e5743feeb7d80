import fs from 'node:fs';
import path from 'node:path';

/** The repository root, found from this file whether it runs from src/ (ts-jest) or dist/src/ (build). */
function findRoot(start: string): string {
  let dir = start;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`package.json not found above ${start}`);
    dir = parent;
  }
  return dir;
}

export const ROOT_DIR = findRoot(__dirname);
export const MIGRATIONS_DIR = path.join(ROOT_DIR, 'migrations');
export const SEEDERS_DIR = path.join(ROOT_DIR, 'seeders');

/** File through which a running embedded database tells sequelize-cli (config/config.js) where it is. */
export const EMBEDDED_URL_FILE = 'database.url';
