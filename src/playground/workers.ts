/// <reference lib="dom" />
// Imported first by client.tsx, before Monaco (GraphiQL 5's editor) loads: it starts its web
// workers through MonacoEnvironment. Each is a file of this server (bundle.ts builds them), so the
// page stays within its CSP ('self') and works offline; GraphiQL's own setups load them from a CDN
// or need a bundler's worker syntax.
const WORKER_FILES: Record<string, string> = {
  json: 'json.worker.js',
  graphql: 'graphql.worker.js',
};

(globalThis as { MonacoEnvironment?: unknown }).MonacoEnvironment = {
  getWorker(_workerId: string, label: string): Worker {
    return new Worker(`/playground/${WORKER_FILES[label] ?? 'editor.worker.js'}`);
  },
};
