import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SCHEMA_FILE } from '../../src/cli/schema.js';
import { buildAppSchema, printAppSchema } from '../../src/graphql/schema.js';

describe('committed GraphQL artefacts', () => {
  it('schema.graphql matches the schema built from the code (run `npm run schema`)', async () => {
    const committed = await fs.readFile(SCHEMA_FILE, 'utf8');
    expect(printAppSchema(await buildAppSchema())).toBe(committed);
  });

  // In its own process: codegen loads graphql through require(), the server through import, and
  // one process holding both copies cannot build a schema.
  it('the generated typed client matches codegen.ts output (run `npm run codegen`)', async () => {
    const run = promisify(execFile);
    await expect(
      run('node_modules/.bin/graphql-codegen', ['--config', 'codegen.ts', '--check', '--silent']),
    ).resolves.toBeDefined();
  });
});
