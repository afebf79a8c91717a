#!/usr/bin/env node
/* global process, console -- a Node script; the lint config has no Node globals for .js files */
// `npm start`: runs the compiled server, dist/main.js (bin/build.js). `npm install` builds it; when
// a source changed since (a developer's edit, a git pull) and esbuild is installed, it is rebuilt
// first, in about two seconds. An install without dev dependencies runs the dist/ it was given.
// Compiled JavaScript rather than the sources through tsx: tsx keeps its loader thread and
// transpile caches alive for the whole life of the server, about 50 MB more resident memory.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, canBuild, distFile, isCurrent } from './build.js';

/**
 * Reads ./.env (NAME=value lines) into process.env with Node's own parser (process.loadEnvFile,
 * Node 20.12 and later; no dependency). A variable already in the environment wins over the file,
 * so a deployment's real settings are never overridden by a stray file.
 */
export function loadDotEnv(file = path.resolve('.env')) {
  if (existsSync(file)) process.loadEnvFile(file);
}

/** Rebuilds dist/ when it is missing or older than the sources and esbuild is there to do it. */
async function ensureBuilt() {
  if (!canBuild() || (await isCurrent())) return;
  const missing = !existsSync(distFile('main'));
  try {
    const { ms } = await build();
    console.warn(
      `tenantql: ${missing ? 'compiled dist/' : 'sources changed: recompiled dist/'} in ${ms} ms`,
    );
  } catch (error) {
    // A read-only install (some container images) runs what it has.
    if (missing || !['EACCES', 'EPERM', 'EROFS'].includes(error?.code)) throw error;
    console.warn(`tenantql: dist/ is not writable (${error.code}); running it as it is`);
  }
}

/**
 * Runs one compiled entry (a key of ENTRIES in bin/build.js, e.g. 'main' or 'cli/migrate') in
 * this process. The module reads its arguments from process.argv.
 */
export async function runCompiled(name) {
  await ensureBuilt();
  const file = distFile(name);
  if (!existsSync(file)) {
    console.error(
      `tenantql: ${file} is missing. Build it with \`npm run build\`, which needs the dev ` +
        'dependencies (`npm install`, not `npm install --omit=dev`).',
    );
    process.exit(1);
  }
  // Stack traces in logs point at src/…, not at the bundle.
  process.setSourceMapsEnabled(true);
  await import(pathToFileURL(file).href);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  loadDotEnv();
  await runCompiled('main');
}
