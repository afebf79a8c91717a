import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The checkout's root (where package.json names tenantql), found by walking up from this module:
 * the same answer whether the sources run through tsx or compiled into dist/ (bin/build.js), where
 * paths relative to the module would point elsewhere.
 */
function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string };
      if (name === 'tenantql') return dir;
    }
    if (path.dirname(dir) === dir) {
      throw new Error(`tenantql's package.json was not found above ${from}`);
    }
  }
}

export const PROJECT_ROOT = findProjectRoot(import.meta.dirname);
