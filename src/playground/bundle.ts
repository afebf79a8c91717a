import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { BuildOptions } from 'esbuild';
import { PROJECT_ROOT } from '../project-root.js';

/** File name under /playground/ → its text. */
export type PlaygroundBundle = Record<string, string>;

/** The page's script and stylesheet; the rest are the editor's web workers. */
export const PLAYGROUND_SCRIPT = 'playground.js';
export const PLAYGROUND_STYLE = 'playground.css';
/**
 * The Monaco editor's web workers (GraphiQL 5), bundled as files of their own: a worker is started
 * from a URL of this server (client.tsx sets MonacoEnvironment), never from a CDN or a blob.
 */
const WORKERS = {
  'editor.worker': 'monaco-editor/esm/vs/editor/editor.worker.js',
  'json.worker': 'monaco-editor/esm/vs/language/json/json.worker.js',
  'graphql.worker': 'monaco-graphql/esm/graphql.worker.js',
};
/** Every file of a bundle (dist/playground also holds the compiled builder, never served). */
export const BUNDLE_FILES = [
  PLAYGROUND_SCRIPT,
  PLAYGROUND_STYLE,
  ...Object.keys(WORKERS).map((name) => `${name}.js`),
];

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
  for (const name of [
    'graphiql',
    '@graphiql/react',
    '@graphiql/plugin-explorer',
    'monaco-editor',
    'monaco-graphql',
    'react',
    'react-dom',
    'esbuild',
  ]) {
    hash.update(`${name}@${packageVersion(name)}`);
  }
  return hash.digest('hex').slice(0, 16);
}

async function readCache(dir: string): Promise<PlaygroundBundle | undefined> {
  try {
    const bundle: PlaygroundBundle = {};
    for (const name of BUNDLE_FILES) bundle[name] = await fs.readFile(path.join(dir, name), 'utf8');
    return bundle;
  } catch {
    return undefined;
  }
}

async function writeCache(dir: string, bundle: PlaygroundBundle): Promise<void> {
  try {
    const tmp = `${dir}.${process.pid}.tmp`;
    await fs.mkdir(tmp, { recursive: true });
    for (const [name, text] of Object.entries(bundle)) {
      await fs.writeFile(path.join(tmp, name), text);
    }
    // Renaming a finished directory into place means a concurrent reader never sees half a bundle.
    await fs.rename(tmp, dir).catch(() => fs.rm(tmp, { recursive: true, force: true }));
  } catch {
    // A read-only node_modules (some container images) only costs a rebuild per process.
  }
}

/** Bundles GraphiQL, React and the sign-in panel into one script, one stylesheet and the workers. */
export async function buildPlaygroundBundle(): Promise<PlaygroundBundle> {
  // Imported lazily: a server with the playground off never loads esbuild.
  const esbuild = await import('esbuild');
  const require = createRequire(import.meta.url);
  const common: BuildOptions & { write: false } = {
    bundle: true,
    write: false,
    outdir: 'out',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  };
  const [page, workers] = await Promise.all([
    esbuild.build({
      ...common,
      entryPoints: { playground: ENTRY },
      format: 'iife',
      jsx: 'automatic',
      // Fonts and images end up inside the stylesheet: the page loads nothing but its own files.
      loader: { '.woff': 'dataurl', '.woff2': 'dataurl', '.ttf': 'dataurl', '.svg': 'dataurl' },
    }),
    esbuild.build({
      ...common,
      entryPoints: Object.fromEntries(
        Object.entries(WORKERS).map(([name, file]) => [name, require.resolve(file)]),
      ),
      format: 'iife',
    }),
  ]);
  const bundle: PlaygroundBundle = {};
  for (const file of [...page.outputFiles, ...workers.outputFiles]) {
    bundle[path.basename(file.path)] = file.text;
  }
  const missing = BUNDLE_FILES.filter((name) => bundle[name] === undefined);
  if (missing.length > 0) throw new Error(`esbuild produced no ${missing.join(', ')}`);
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
