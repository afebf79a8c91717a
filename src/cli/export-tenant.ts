import fs from 'node:fs';
import { Readable, Writable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import { loadConfigOrExit } from '../config.js';

const USAGE = `usage: tenantql export-tenant --id <tenant id> --reason <why> [--out <file>] [--url <api url>]
Streams one tenant as a JSON document through the running API's audited export
(GET /admin/export), as the platform operator whose access token is in TENANTQL_TOKEN.
--url defaults to http://localhost:$PORT (4000); --out defaults to standard output.
Progress goes to standard error.`;

function option(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

const id = option('id');
const reason = option('reason');
const out = option('out');
const config = loadConfigOrExit();
const base = option('url') ?? `http://localhost:${config.port}`;
const token = config.tenantqlToken;
if (process.argv.includes('--help') || !id || !reason || !token) {
  console.error(USAGE);
  if (!token && id) console.error('\nTENANTQL_TOKEN is not set: log in as an operator first.');
  process.exit(process.argv.includes('--help') ? 0 : 2);
}

const url = new URL('/admin/export', base);
url.searchParams.set('id', id);
url.searchParams.set('reason', reason);
const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
if (!response.ok || !response.body) {
  const body = await response.text();
  console.error(`export refused (HTTP ${response.status}): ${body}`);
  process.exit(1);
}

let bytes = 0;
let reported = 0;
const target = out ? fs.createWriteStream(out) : process.stdout;
const progress = new Writable({
  write(chunk: Buffer, _encoding, done) {
    bytes += chunk.length;
    if (bytes - reported >= 1_000_000) {
      reported = bytes;
      process.stderr.write(`exported ${(bytes / 1_000_000).toFixed(1)} MB\n`);
    }
    if (target.write(chunk)) done();
    else target.once('drain', () => done());
  },
  final(done) {
    process.stderr.write(`exported ${bytes} bytes${out ? ` to ${out}` : ''}\n`);
    if (out) target.end(done);
    else done();
  },
});
// fetch's body is typed with the DOM's ReadableStream; at run time it is Node's own.
await pipeline(Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>), progress);
