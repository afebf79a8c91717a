#!/usr/bin/env node
/* global process, console -- a Node script; the lint config has no Node globals for .js files */
// `npm start`: compiles src/main.ts and its imports into one module with esbuild (about a second)
// and runs it in this process. Running the sources through tsx instead keeps its loader thread
// and transpile caches alive for the whole life of the server: about 50 MB more resident memory.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, stop } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Git-ignored, and where tools conventionally cache (the playground bundle lives beside it). */
const CACHE_DIR = path.join(ROOT, 'node_modules', '.cache', 'tenantql');

/** Runs a TypeScript module of this project through tsx, in this process, from any directory. */
export async function runSource(relativePath) {
  // The project's tsconfig turns on the legacy decorators type-graphql needs.
  const { register } = await import('tsx/esm/api');
  register({ tsconfig: path.join(ROOT, 'tsconfig.json') });
  await import(pathToFileURL(path.join(ROOT, relativePath)).href);
}

export async function startServer() {
  const { outputFiles } = await build({
    entryPoints: [path.join(ROOT, 'src', 'main.ts')],
    outfile: path.join(CACHE_DIR, 'main.mjs'),
    write: false,
    bundle: true,
    // Packages stay imports from node_modules: the same code the tests and tsx load.
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // The project's tsconfig turns on the legacy decorators type-graphql needs.
    tsconfig: path.join(ROOT, 'tsconfig.json'),
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  await stop();
  const code = outputFiles[0].contents;
  // Named by content and written by rename, so servers starting at once never read a half-written
  // file, and one running from an older build keeps the module it already loaded.
  const name = `main-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`;
  const file = path.join(CACHE_DIR, name);
  try {
    await fs.mkdir(CACHE_DIR, { recursive: true });
    const partial = `${file}.${process.pid}.tmp`;
    await fs.writeFile(partial, code);
    await fs.rename(partial, file);
  } catch (error) {
    if (!['EACCES', 'EPERM', 'EROFS'].includes(error?.code)) throw error;
    // A read-only install: run the sources through tsx instead (more memory, same server).
    console.warn(
      `tenantql: ${CACHE_DIR} is not writable (${error.code}); running src/ through tsx`,
    );
    await runSource(path.join('src', 'main.ts'));
    return;
  }
  for (const old of await fs.readdir(CACHE_DIR)) {
    if (old.startsWith('main-') && old !== name && !old.endsWith('.tmp')) {
      await fs.rm(path.join(CACHE_DIR, old), { force: true });
    }
  }
  // Stack traces in logs point at src/…, not at the bundle.
  process.setSourceMapsEnabled(true);
  await import(pathToFileURL(file).href);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await startServer();
}
