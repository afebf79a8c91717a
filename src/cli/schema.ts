import fs from 'node:fs/promises';
import path from 'node:path';
import { buildAppSchema, printAppSchema } from '../graphql/schema.js';
import { PROJECT_ROOT } from '../project-root.js';

/** Writes schema.graphql from the code; a test fails when the committed file is stale. */
export const SCHEMA_FILE = path.join(PROJECT_ROOT, 'schema.graphql');

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  await fs.writeFile(SCHEMA_FILE, printAppSchema(await buildAppSchema()));
  console.log(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}`);
}
