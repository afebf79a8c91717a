import { existsSync } from 'node:fs';

/** Debian programs some tests start (.ci/run installs them), with the package that has each. */
export const PROGRAMS = {
  pgbouncer: { path: '/usr/sbin/pgbouncer', debianPackage: 'pgbouncer' },
  redis: { path: '/usr/bin/redis-server', debianPackage: 'redis-server' },
  chromium: { path: '/usr/bin/chromium', debianPackage: 'chromium' },
} as const;

/**
 * Whether the tests that need `program` can run. On a developer machine without it they are
 * skipped, and the reason is printed with the installation command; under CI a missing program
 * is a failure instead (the tests run and fail), so a broken CI image cannot pass by skipping.
 */
export function installed(program: keyof typeof PROGRAMS, what: string): boolean {
  const { path, debianPackage } = PROGRAMS[program];
  if (existsSync(path) || process.env.CI) return true;
  console.warn(
    `skipping ${what}: ${path} is not installed (Debian/Ubuntu: apt-get install ${debianPackage})`,
  );
  return false;
}
