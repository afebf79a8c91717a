import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PROJECT_ROOT } from '../project-root.js';

export interface PlaygroundBundle {
  js: string;
  css: string;
}

const ROOT = PROJECT_ROOT;
const HERE = path.join(ROOT, 'src', 'playground');
const ENTRY = path.join(HERE, 'client.tsx');
/** Every source file of the browser bundle (bin/build.js watches them too). */
const PLAYGROUND_SOURCES = [
  'src/playground/client.tsx',
  'src/playground/examples.ts',
  // The typed client's token refresh, shared with the playground.
  'src/client/credentials.ts',
];
/** Where `npm run build` (bin/build.js) writes the bundle, beside the compiled server. */
const PREBUILT_DIR = path.join(ROOT, 'dist', 'playground');
/** Git-ignored, and where tools conventionally cache; a read-only install just skips it. */
const CACHE_DIR = path.join(ROOT, 'node_modules', '.cache', 'tenantql-playground');

function packageVersion(name: string): string {
  const require = createRequire(import.meta.url);
  const manifest = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

/** Changes whenever the sources or the bundled packages do, so a stale cache is never served. */
async function cacheKey(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of PLAYGROUND_SOURCES) hash.update(await fs.readFile(path.join(ROOT, file)));
  for (const name of ['graphiql', '@graphiql/react', 'react', 'react-dom', 'esbuild']) {
    hash.update(`${name}@${packageVersion(name)}`);
  }
  return hash.digest('hex').slice(0, 16);
}

async function readCache(dir: string): Promise<PlaygroundBundle | undefined> {
  try {
    const [js, css] = await Promise.all([
      fs.readFile(path.join(dir, 'playground.js'), 'utf8'),
      fs.readFile(path.join(dir, 'playground.css'), 'utf8'),
    ]);
    return { js, css };
  } catch {
    return undefined;
  }
}

async function writeCache(dir: string, bundle: PlaygroundBundle): Promise<void> {
  try {
    const tmp = `${dir}.${process.pid}.tmp`;
    await fs.mkdir(tmp, { recursive: true });
    await fs.writeFile(path.join(tmp, 'playground.js'), bundle.js);
    await fs.writeFile(path.join(tmp, 'playground.css'), bundle.css);
    // Renaming a finished directory into place means a concurrent reader never sees half a bundle.
    await fs.rename(tmp, dir).catch(() => fs.rm(tmp, { recursive: true, force: true }));
  } catch {
    // A read-only node_modules (some container images) only costs a rebuild per process.
  }
}

/** Bundles GraphiQL, React and the sign-in panel into one script and one stylesheet. */
export async function buildPlaygroundBundle(): Promise<PlaygroundBundle> {
  // Imported lazily: a server with the playground off never loads esbuild.
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    outdir: 'out',
    entryNames: 'playground',
    format: 'iife',
    platform: 'browser',
    target: ['es2020'],
    jsx: 'automatic',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
    // Fonts and images end up inside the stylesheet: the page loads nothing but its two files.
    loader: { '.woff': 'dataurl', '.woff2': 'dataurl', '.ttf': 'dataurl', '.svg': 'dataurl' },
  });
  const bundle: PlaygroundBundle = { js: '', css: '' };
  for (const file of result.outputFiles) {
    if (file.path.endsWith('.js')) bundle.js = file.text;
    if (file.path.endsWith('.css')) bundle.css = file.text;
  }
  if (!bundle.js) throw new Error('esbuild produced no playground script');
  return bundle;
}

let pending: Promise<PlaygroundBundle> | undefined;

/**
 * The compiled server (dist/) serves the bundle built with it, so a production install needs no
 * esbuild. The TypeScript sources (tests, tsx) build it on first use and cache it on disk under
 * node_modules/.cache, so an edit to the client shows without a build. A failed build is retried
 * next time.
 */
export function loadPlaygroundBundle(): Promise<PlaygroundBundle> {
  pending ??= (async () => {
    if (!import.meta.filename.endsWith('.ts')) {
      const prebuilt = await readCache(PREBUILT_DIR);
      if (prebuilt) return prebuilt;
    }
    const dir = path.join(CACHE_DIR, await cacheKey());
    const cached = await readCache(dir);
    if (cached) return cached;
    const bundle = await buildPlaygroundBundle();
    await writeCache(dir, bundle);
    return bundle;
  })().catch((error: unknown) => {
    pending = undefined;
    throw error;
  });
  return pending;
}
