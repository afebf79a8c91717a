import 'reflect-metadata';
import { parse, validate } from 'graphql';
import { expect, it } from 'vitest';
import { buildAppSchema } from '../graphql/schema.js';
import { EXAMPLE_TABS } from './examples.js';

it('every example tab of the playground is valid against the schema', async () => {
  const schema = await buildAppSchema();
  for (const { query } of EXAMPLE_TABS) {
    expect(
      validate(schema, parse(query)).map((e) => e.message),
      query,
    ).toEqual([]);
  }
});
