import 'reflect-metadata';
import { buildSchema, getOperationAST, parse, validate, type GraphQLSchema } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildAppSchema } from './schema.js';
import { LIST_BOUNDS, limitValidationRules, operationCost, QUERY_LIMITS } from './limits.js';

function costOf(
  schema: GraphQLSchema,
  query: string,
  variables?: Record<string, unknown>,
): number | undefined {
  const document = parse(query);
  const operation = getOperationAST(document);
  if (!operation) throw new Error('no operation');
  return operationCost(schema, document, operation, variables);
}

// A union and an interface, which the app's schema does not have yet: fragments on them must count
// for the type they select on.
const abstract = buildSchema(`
  interface Node { id: ID! }
  type A implements Node { id: ID! items(first: Int = 10): [A!]! }
  type B implements Node { id: ID! name: String }
  union Thing = A | B
  type Query { node: Node things(first: Int = 10): [Thing!]! }
`);

describe('operationCost on interfaces and unions', () => {
  it('counts an inline fragment for its type, the most expensive type of the union', () => {
    // things: 1 + 100 rows × max(A: items 1 + 100 × id 1, B: id + name = 2)
    const query = `{ things(first: 100) { ... on A { items(first: 100) { id } } ... on B { id name } } }`;
    expect(costOf(abstract, query)).toBe(1 + 100 * 101);
  });

  it('counts a named fragment on an interface where its types apply, never as zero', () => {
    const query = `query { things(first: 100) { ...N } }
      fragment N on Node { id ... on A { items { id } } }`;
    // A: id 1 + items (default 10 rows) 1 + 10 = 12; B: id 1.
    expect(costOf(abstract, query)).toBe(1 + 100 * 12);
    expect(costOf(abstract, `{ node { ... on A { items(first: 50) { id } } } }`)).toBe(1 + 51);
  });

  it('counts a variable by its coerced value, its default included', () => {
    const query = `query ($n: Int = 100) { things(first: $n) { ... on B { id } } }`;
    expect(costOf(abstract, query)).toBe(1 + 100);
    expect(costOf(abstract, query, { n: 3 })).toBe(1 + 3);
    // null asks for the field's own default.
    expect(costOf(abstract, query, { n: null })).toBe(1 + 10);
    // Variables that do not coerce are refused by execution before any resolver runs.
    expect(costOf(abstract, query, { n: 'many' })).toBeUndefined();
  });
});

describe('operationCost on the app schema', () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await buildAppSchema();
  });

  it('counts the reference operation of the benchmark as 702', () => {
    const query = `query($p: ID!) { project(id: $p) { tasks(first: 20) { edges { node { title status
      comments(first: 10) { edges { node { body } } } } } } } }`;
    expect(costOf(schema, query, { p: 'x' })).toBe(702);
  });

  it('counts Project.transitions by its first, 50 when none is given', () => {
    const query = `query ($n: Int) { projects(first: 100) { edges { node { transitions(first: $n) { id } } } } }`;
    expect(costOf(schema, query)).toBe(1 + 100 * (1 + 1 + (1 + 50)));
    expect(costOf(schema, query, { n: 100 })).toBe(1 + 100 * (1 + 1 + (1 + 100)));
    // Over the cap the resolver refuses it (BAD_USER_INPUT) before fetching: counted as the cap.
    expect(costOf(schema, query, { n: 5000 })).toBe(1 + 100 * (1 + 1 + (1 + 100)));
  });

  it('counts nodes(ids:) once per id, node(id:) once', () => {
    const query = `query ($ids: [ID!]!) { nodes(ids: $ids) { id ... on Task { title } } }`;
    expect(costOf(schema, query, { ids: ['a', 'b', 'c'] })).toBe(1 + 3 * 2);
    // Over the cap the resolver refuses it (BAD_USER_INPUT) before fetching: counted as the cap.
    expect(costOf(schema, query, { ids: Array.from({ length: 500 }, () => 'x') })).toBe(
      1 + 100 * 2,
    );
    expect(costOf(schema, `{ node(id: "x") { id ... on Project { name } } }`)).toBe(1 + 2);
  });

  it('prices each part of Project.taskStats as a page of the tasks it reads', () => {
    const query = `{ projects(first: 10) { edges { node { taskStats {
      total overdue byStatus { status count } byAssignee { count user { name } } } } } } }`;
    const part = 1 + 20;
    const byStatus = part + 3 * 2;
    const byAssignee = part + 251 * (1 + (1 + 1));
    // projects: 1 + 10 × (edges 1 + 1 × (node 1 + 1 × (taskStats 1 + parts)))
    expect(costOf(schema, query)).toBe(1 + 10 * (1 + (1 + (1 + part * 2 + byStatus + byAssignee))));
  });

  it('prices search as the ranking of every match plus its page, and highlights per hit', () => {
    const query = `query ($n: Int) { search(query: "x", first: $n) { totalCount edges {
      rank node { ... on Task { title } ... on Comment { body } } } } }`;
    // search: 1 + 100 + n × (totalCount 1 + edges 1 + 1 × (rank 1 + node 1 + 1 × max(1, 1)))
    expect(costOf(schema, query, { n: 10 })).toBe(1 + 100 + 10 * (1 + 1 + (1 + 1 + 1)));
    const highlighted = `{ search(query: "x") { edges { highlight { text match } } } }`;
    expect(costOf(schema, highlighted)).toBe(1 + 100 + 20 * (1 + (1 + 10 + 71 * 2)));
  });

  it('counts members as the largest plan allows', () => {
    expect(costOf(schema, `{ members { role user { id email } } }`)).toBe(
      1 + (LIST_BOUNDS['Query.members'] ?? 0) * (1 + (1 + 2)),
    );
  });

  it('counts last like first, whatever the default of first', () => {
    const query = `query ($n: Int) { projects(last: $n) { edges { node { id name } } } }`;
    expect(costOf(schema, query, { n: 7 })).toBe(1 + 7 * (1 + 1 + 2));
    expect(costOf(schema, query, { n: 100 })).toBe(
      costOf(
        schema,
        `{ projects(first: 100) {
      edges { node { id name } } } }`,
      ),
    );
    // No last: the default first of 20.
    expect(costOf(schema, query)).toBe(1 + 20 * (1 + 1 + 2));
  });

  it('prices each filter condition as one more value on every row of the page', () => {
    const plain = `{ projects(first: 10) { edges { node { id } } } }`;
    const filtered = (filter: string) =>
      costOf(schema, `{ projects(first: 10, filter: ${filter}) { edges { node { id } } } }`);
    expect(costOf(schema, plain)).toBe(1 + 10 * (1 + 1 + 1));
    expect(filtered(`{ status: ACTIVE }`)).toBe(1 + 10 * (3 + 1));
    expect(filtered(`{ name: { contains: "a", startsWith: "b" }, id: { in: ["x", "y"] } }`)).toBe(
      1 + 10 * (3 + 3),
    );
    expect(
      filtered(`{ or: [{ name: { eq: "a" } }, { not: { key: { eq: "B" } } }], and: [] }`),
    ).toBe(1 + 10 * (3 + 2));
    // Nested lists: a condition counts for every row it is tested on.
    const nested = `query ($f: TaskFilter) { projects(first: 10) { edges { node {
      tasks(first: 5, filter: $f) { edges { node { id } } } } } } }`;
    const bare = costOf(schema, nested) ?? 0;
    expect(
      costOf(schema, nested, { f: { title: { contains: 'x' }, priority: { gte: 'HIGH' } } }),
    ).toBe(bare + 10 * 5 * 2);
    // Members is a bounded list, not a page: its filter counts per member.
    expect(costOf(schema, `{ members(filter: { role: { eq: OWNER } }) { role } }`)).toBe(
      1 + (LIST_BOUNDS['Query.members'] ?? 0) * 2,
    );
  });

  it('counts a list nobody bounded as a full page', () => {
    expect(costOf(schema, `{ myTenants { id } }`)).toBe(1 + 100);
  });

  it('names the limit and what the operation measured', () => {
    const document = parse(`{ a: __typename b: __typename c: __typename }`);
    const [error] = validate(
      schema,
      document,
      limitValidationRules({ ...QUERY_LIMITS, maxAliases: 2 }),
    );
    expect(error).toMatchObject({
      extensions: { code: 'TOO_MANY_ALIASES', limit: 'aliases', maximum: 2, measured: 3 },
    });
  });
});
