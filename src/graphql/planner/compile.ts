import {
  getArgumentValues,
  getNamedType,
  isNonNullType,
  isObjectType,
  Kind,
  OperationTypeNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { UUID } from '../../formats.js';
import type { Keyset } from '../../db/keyset.js';
import { sql } from 'kysely';
import { decodeCursor, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, type Ordering } from '../connection.js';
import {
  arrayAggregate,
  boolean,
  escapedString,
  expression,
  nullable,
  object,
  plainString,
  stringConstant,
  toSql,
  type JsonText,
} from './json-text.js';
import { ENTITIES, ROOTS, type Entity, type ScalarColumn } from './relations.js';

/**
 * A read-only operation compiled to one SQL statement whose single `data` column is the
 * operation's `data` object, exactly as graphql-js would have built it: response keys and their
 * order, aliases, `__typename`, nulls, enum and date spellings, connection shapes. Compiled once
 * per document; each request only checks and binds its arguments.
 */
export type Plan = StatementPlan | ConstantPlan;

/** An operation that reads no table (`{ __typename }`): its data, with no transaction at all. */
export interface ConstantPlan {
  kind: 'constant';
  data: Readonly<Record<string, unknown>>;
}

/** A root field of a planned operation, as graphql-js would report an error of it. */
export interface PlannedRoot {
  key: string;
  node: FieldNode;
  /** An error of a non-null root field nulls the whole data. */
  nonNull: boolean;
  /** False for `__typename`, which cannot fail. */
  reads: boolean;
}

export interface StatementPlan {
  kind: 'statement';
  /** The root fields, in order. */
  roots: readonly PlannedRoot[];
  /** What `__typename` answers at the root. */
  rootTypeName: string;
  /** The statement text; `tenantKnown` when the tenant id is bound as $1 (else the setting). */
  text(tenantKnown: boolean): string;
  /**
   * The statement's parameters from the operation's coerced variables (after the tenant id, when
   * bound); undefined when an argument is one the field itself would refuse (an id that is not a
   * uuid, `first` out of range) or one the plan does not cover (`after`, a filter, an ordering),
   * so graphql-js answers it with the field's own error or result.
   */
  bind(variables: Record<string, unknown>): (string | null)[] | undefined;
}

class NotPlannable extends Error {}

// Placeholders in the statement being built: GraphQL names and our own SQL never contain braces.
const TENANT = '{{tenant}}';
/** The rows a condition of a connection applies to, replaced by their alias. */
const ROWS = '{{rows}}';
const param = (index: number) => `{{${index}}}`;

/** One field whose arguments become parameters; values are checked at bind time. */
interface ArgumentSlot {
  field: GraphQLField<unknown, unknown>;
  node: FieldNode;
  /** Arguments bound as parameters, with what each must be. */
  bound: Readonly<Record<string, Rule>>;
}

/** uuid: an id; pageSize: `first`; cursor: `after`, bound as `after.value` and `after.id`. */
type Rule = 'uuid' | 'pageSize' | 'cursor';

interface Parameter {
  slot: number;
  argument: string;
}

/** The fields selected under one response key, merged as graphql-js merges them. */
interface Selected {
  key: string;
  name: string;
  nodes: FieldNode[];
}

const TIMESTAMP_FORMAT = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

class Compiler {
  readonly slots: ArgumentSlot[] = [];
  readonly parameters: Parameter[] = [];
  #aliases = 0;

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly fragments: Readonly<Record<string, FragmentDefinitionNode>>,
  ) {}

  /** The fields of `selectionSets` on `typeName` by response key, in first-seen order. */
  select(selectionSets: readonly (SelectionSetNode | undefined)[], typeName: string): Selected[] {
    const byKey = new Map<string, Selected>();
    const visit = (set: SelectionSetNode | undefined) => {
      for (const selection of set?.selections ?? []) {
        // @skip/@include (and anything else) decide per request: graphql-js keeps those.
        if (selection.directives?.length) throw new NotPlannable();
        if (selection.kind === Kind.FIELD) {
          const key = selection.alias?.value ?? selection.name.value;
          const seen = byKey.get(key);
          if (seen) seen.nodes.push(selection);
          else byKey.set(key, { key, name: selection.name.value, nodes: [selection] });
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          const on = selection.typeCondition?.name.value;
          if (on !== undefined && on !== typeName) throw new NotPlannable();
          visit(selection.selectionSet);
        } else {
          const fragment = this.fragments[selection.name.value];
          if (!fragment || fragment.typeCondition.name.value !== typeName) {
            throw new NotPlannable();
          }
          visit(fragment.selectionSet);
        }
      }
    };
    for (const set of selectionSets) visit(set);
    return [...byKey.values()];
  }

  below(selected: Selected, typeName: string): Selected[] {
    return this.select(
      selected.nodes.map((node) => node.selectionSet),
      typeName,
    );
  }

  alias(): string {
    this.#aliases += 1;
    return `"r${this.#aliases}"`;
  }

  object(typeName: string): GraphQLObjectType {
    const type = this.schema.getType(typeName);
    if (!isObjectType(type)) throw new NotPlannable();
    return type;
  }

  field(type: GraphQLObjectType, name: string, returns?: string): GraphQLField<unknown, unknown> {
    const field = type.getFields()[name];
    if (!field) throw new NotPlannable();
    if (returns !== undefined && getNamedType(field.type).name !== returns) {
      throw new NotPlannable();
    }
    return field;
  }

  slot(
    field: GraphQLField<unknown, unknown>,
    node: FieldNode,
    bound: ArgumentSlot['bound'],
  ): (argument: string) => string {
    const slot = this.slots.push({ field, node, bound }) - 1;
    const indexes = new Map<string, number>();
    return (argument) => {
      let index = indexes.get(argument);
      if (index === undefined) {
        index = this.parameters.push({ slot, argument }) - 1;
        indexes.set(argument, index);
      }
      return param(index);
    };
  }

  /** The JSON object of one row of `entityName` (`row` is its alias) for `selected`. */
  rowObject(entityName: string, selected: Selected[], row: string): JsonText {
    const entity = ENTITIES[entityName];
    if (!entity) throw new NotPlannable();
    const type = this.object(entityName);
    return object(
      selected.map((one) => [one.key, this.rowValue(entityName, entity, type, one, row)] as const),
    );
  }

  rowValue(
    entityName: string,
    entity: Entity,
    type: GraphQLObjectType,
    one: Selected,
    row: string,
  ): JsonText {
    if (one.name === '__typename') return stringConstant(entityName);
    const scalar = entity.scalars[one.name];
    if (scalar) {
      this.field(type, one.name);
      return columnValue(column(row, scalar.column), scalar);
    }
    const target = entity.rows[one.name];
    if (target) {
      const related = ENTITIES[target.entity];
      if (!related) throw new NotPlannable();
      this.field(type, one.name, target.entity);
      const other = this.alias();
      const rowJson = this.rowObject(target.entity, this.below(one, target.entity), other);
      const where = [`${column(other, 'id')} = ${column(row, target.column)}`];
      if (related.tenantScoped) where.unshift(`${column(other, 'tenant_id')} = ${TENANT}`);
      return nullable(
        `(select ${toSql(rowJson)} from ${related.table} ${other} where ${where.join(' and ')})`,
      );
    }
    const list = entity.lists[one.name];
    if (!list) throw new NotPlannable();
    const field = this.field(type, one.name, `${list.entity}Connection`);
    const [node] = one.nodes;
    if (!node) throw new NotPlannable();
    const bind = this.slot(field, node, { first: 'pageSize', after: 'cursor' });
    return expression(
      this.connection(list.entity, one, bind, [`${ROWS}."${list.column}" = ${column(row, 'id')}`]),
    );
  }

  /**
   * A connection of `entityName` rows matching `where` (ROWS stands for the rows' alias): the
   * `first` rows after the `after` cursor in CREATED_AT order (the id breaking ties), as the
   * services page them (src/db/keyset.ts), with cursors, page info and count only when selected.
   */
  connection(
    entityName: string,
    selected: Selected,
    bind: (argument: string) => string,
    where: string[],
  ): string {
    const entity = ENTITIES[entityName];
    if (!entity?.order || !entity.tenantScoped) throw new NotPlannable();
    const sortColumn = entity.order;
    const connectionType = this.object(`${entityName}Connection`);
    const edgeType = this.object(`${entityName}Edge`);
    const pageInfoType = this.object('PageInfo');
    const page = this.alias();
    const inner = this.alias();
    const first = `${bind('first')}::int`;
    // Without a cursor the bound precedes every row, so one statement text serves both.
    const after = `(coalesce(${bind('after.value')}::timestamptz, '-infinity'), coalesce(${bind('after.id')}::uuid, '${NO_ID}'))`;
    const conditions = (alias: string) =>
      [
        `${column(alias, 'tenant_id')} = ${TENANT}`,
        ...where.map((w) => w.replaceAll(ROWS, alias)),
      ].join(' and ');
    const key = (alias: string) => `(${column(alias, sortColumn)}, ${column(alias, 'id')})`;
    const order = (alias: string, direction = '') =>
      `${column(alias, sortColumn)}${direction}, ${column(alias, 'id')}${direction}`;
    const fields = this.below(selected, connectionType.name);
    const pageInfo = fields
      .filter((f) => f.name === 'pageInfo')
      .flatMap((f) => this.below(f, pageInfoType.name));
    const edgeFields = fields
      .filter((f) => f.name === 'edges')
      .flatMap((f) => this.below(f, edgeType.name));
    const needsNext = pageInfo.some((f) => f.name === 'hasNextPage');
    const needsCursor =
      pageInfo.some((f) => f.name === 'startCursor' || f.name === 'endCursor') ||
      edgeFields.some((f) => f.name === 'cursor');
    // The rows of the page: one more than asked for tells whether more follow (hasNextPage).
    const kept = needsNext ? ` filter (where ${column(page, 'position')} <= ${first})` : '';
    const cursorOf = (direction: string) =>
      plainString(
        `(array_agg(${column(page, 'cursor')} order by ${order(page, direction)})${kept})[1]`,
      );
    const pairs: (readonly [string, JsonText])[] = [];
    for (const one of fields) {
      if (one.name !== '__typename') this.field(connectionType, one.name);
      let value: JsonText;
      switch (one.name) {
        case '__typename':
          value = stringConstant(connectionType.name);
          break;
        case 'totalCount': {
          const all = this.alias();
          value = expression(
            `(select count(*) from ${entity.table} ${all} where ${conditions(all)})::text`,
          );
          break;
        }
        case 'pageInfo':
          value = object(
            this.below(one, pageInfoType.name).map((info) => {
              const before = this.alias();
              switch (info.name) {
                case '__typename':
                  return [info.key, stringConstant(pageInfoType.name)] as const;
                case 'hasNextPage':
                  return [info.key, boolean(`count(*) > ${first}`)] as const;
                case 'hasPreviousPage':
                  return [
                    info.key,
                    boolean(
                      `exists (select from ${entity.table} ${before} where ${conditions(before)} and ${key(before)} <= ${after})`,
                    ),
                  ] as const;
                case 'startCursor':
                  return [info.key, cursorOf('')] as const;
                case 'endCursor':
                  return [info.key, cursorOf(' desc')] as const;
                default:
                  throw new NotPlannable();
              }
            }),
          );
          break;
        case 'edges': {
          const edge = object(
            this.below(one, edgeType.name).map((e) => {
              switch (e.name) {
                case '__typename':
                  return [e.key, stringConstant(edgeType.name)] as const;
                case 'cursor':
                  return [e.key, plainString(column(page, 'cursor'))] as const;
                case 'node':
                  return [
                    e.key,
                    this.rowObject(entityName, this.below(e, entityName), page),
                  ] as const;
                default:
                  throw new NotPlannable();
              }
            }),
          );
          value = arrayAggregate(edge, order(page), kept);
          break;
        }
        default:
          throw new NotPlannable();
      }
      pairs.push([one.key, value]);
    }
    const position = needsNext
      ? `, row_number() over (order by ${order(inner)}) as "position"`
      : '';
    const cursor = needsCursor ? `, ${cursorSql(inner, sortColumn)} as "cursor"` : '';
    const limit = needsNext ? `${first} + 1` : first;
    return `(select ${toSql(object(pairs))} from (select ${inner}.*${position}${cursor} from ${entity.table} ${inner} where ${conditions(inner)} and ${key(inner)} > ${after} order by ${order(inner)} limit ${limit}) ${page})`;
  }

  root(query: GraphQLObjectType, one: Selected): JsonText {
    if (one.name === '__typename') return stringConstant(query.name);
    const root = ROOTS[one.name];
    if (!root) throw new NotPlannable();
    const [node] = one.nodes;
    if (!node) throw new NotPlannable();
    const entity = ENTITIES[root.entity];
    if (!entity?.tenantScoped) throw new NotPlannable();
    if (root.kind === 'row') {
      const field = this.field(query, one.name, root.entity);
      if (isNonNullType(field.type)) throw new NotPlannable();
      const bind = this.slot(field, node, { id: 'uuid' });
      const row = this.alias();
      const rowJson = this.rowObject(root.entity, this.below(one, root.entity), row);
      return nullable(
        `(select ${toSql(rowJson)} from ${entity.table} ${row} where ${column(row, 'tenant_id')} = ${TENANT} and ${column(row, 'id')} = ${bind('id')}::uuid)`,
      );
    }
    const field = this.field(query, one.name, `${root.entity}Connection`);
    const bound: Record<string, Rule> = { first: 'pageSize', after: 'cursor' };
    for (const argument of Object.keys(root.byArgument)) bound[argument] = 'uuid';
    const bind = this.slot(field, node, bound);
    const where = Object.entries(root.byArgument).map(
      ([argument, name]) => `${ROWS}."${name}" = ${bind(argument)}::uuid`,
    );
    return expression(this.connection(root.entity, one, bind, where));
  }
}

/** The default ordering of the lists the planner answers, as the services tag it. */
const CREATED_AT_ORDER: Ordering = {
  tag: 'CREATED_AT',
  keys: [{ sort: { expression: sql.ref('created_at'), type: 'timestamptz' }, direction: 'ASC' }],
};

/** Precedes every uuid: with '-infinity', the keyset bound of a page without a cursor. */
const NO_ID = '00000000-0000-0000-0000-000000000000';

/**
 * encodeCursor (graphql/connection.ts) in SQL: base64url of `["CREATED_AT","<key>","<id>"]`,
 * the key in microseconds and UTC as the services write it. Every character is plain ASCII, so
 * the JSON needs no escaping; base64 is unwrapped and unpadded as Node's base64url is.
 */
function cursorSql(alias: string, sortColumn: string): string {
  const sortKey = `to_char(${column(alias, sortColumn)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
  const json = `'["CREATED_AT","' || ${sortKey} || '","' || ${column(alias, 'id')} || '"]'`;
  return `rtrim(translate(encode(convert_to(${json}, 'UTF8'), 'base64'), E'+/\\n', '-_'), '=')`;
}

/** `alias` is quoted already; column names come from relations.ts. */
function column(alias: string, name: string): string {
  return `${alias}."${name}"`;
}

function columnValue(sql: string, { format }: ScalarColumn): JsonText {
  switch (format) {
    case 'plain':
      return escapedString(sql);
    case 'unescaped':
      return plainString(`${sql}::text`);
    case 'timestamp':
      return plainString(`to_char(${sql} at time zone 'UTC', ${TIMESTAMP_FORMAT})`);
    case 'date':
      return plainString(`to_char(${sql}, 'YYYY-MM-DD')`);
    case 'present':
      return boolean(`${sql} is not null`);
  }
}

/** The operation as one statement, or undefined when any part of it is not plannable. */
export function compilePlan(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fragments: Readonly<Record<string, FragmentDefinitionNode>>,
): Plan | undefined {
  const query = schema.getQueryType();
  if (operation.operation !== OperationTypeNode.QUERY || !query) return undefined;
  const compiler = new Compiler(schema, fragments);
  let body: string;
  const reading: PlannedRoot[] = [];
  try {
    const roots = compiler.select([operation.selectionSet], query.name);
    for (const one of roots) {
      const [node] = one.nodes;
      const reads = one.name !== '__typename';
      const field = query.getFields()[one.name];
      if (node) {
        reading.push({ key: one.key, node, reads, nonNull: !!field && isNonNullType(field.type) });
      }
    }
    if (roots.every((one) => one.name === '__typename')) {
      return {
        kind: 'constant',
        data: Object.fromEntries(roots.map((one) => [one.key, query.name])),
      };
    }
    const data = object(roots.map((one) => [one.key, compiler.root(query, one)] as const));
    // The response carries the text as it is (PlannedData): nothing parses it.
    body = `select ${toSql(data)} as data`;
  } catch (error) {
    if (error instanceof NotPlannable) return undefined;
    throw error;
  }
  const { slots, parameters } = compiler;
  const texts = new Map<boolean, string>();
  return {
    kind: 'statement',
    roots: reading,
    rootTypeName: query.name,
    text(tenantKnown) {
      let text = texts.get(tenantKnown);
      if (text === undefined) {
        const offset = tenantKnown ? 2 : 1;
        text = body
          .replaceAll(TENANT, tenantKnown ? '$1::uuid' : 'app.current_tenant_id()')
          .replace(/\{\{(\d+)\}\}/g, (_, index: string) => `$${Number(index) + offset}`);
        texts.set(tenantKnown, text);
      }
      return text;
    },
    bind(variables) {
      const values: Record<string, string | number | null>[] = [];
      for (const slot of slots) {
        const checked = checkArguments(slot, variables);
        if (!checked) return undefined;
        values.push(checked);
      }
      // Held statements take text: PostgreSQL casts each parameter where it is used.
      return parameters.map(({ slot, argument }) => {
        const value = values[slot]?.[argument];
        return value === null || value === undefined ? null : String(value);
      });
    },
  };
}

/** The slot's bound arguments as parameters, or undefined when graphql-js must answer. */
function checkArguments(
  slot: ArgumentSlot,
  variables: Record<string, unknown>,
): Record<string, string | number | null> | undefined {
  let values: Record<string, unknown>;
  try {
    values = getArgumentValues(slot.field, slot.node, variables);
  } catch {
    return undefined;
  }
  // No cursor is a first page.
  const checked: Record<string, string | number | null> = { 'after.value': null, 'after.id': null };
  for (const [name, value] of Object.entries(values)) {
    const rule = slot.bound[name];
    if (rule === 'uuid') {
      if (typeof value !== 'string' || !UUID.test(value)) return undefined;
      checked[name] = value.toLowerCase();
    } else if (rule === 'pageSize') {
      // null is the default page, as pageSize() reads it.
      const size = value ?? DEFAULT_PAGE_SIZE;
      if (typeof size !== 'number' || !Number.isInteger(size) || size < 1) return undefined;
      if (size > MAX_PAGE_SIZE) return undefined;
      checked[name] = size;
    } else if (rule === 'cursor') {
      // A cursor of another list or order, or a forged one: the field's own BAD_USER_INPUT.
      let keyset: Keyset | undefined;
      try {
        keyset = decodeCursor(value as string | null | undefined, CREATED_AT_ORDER);
      } catch {
        return undefined;
      }
      checked['after.value'] = keyset?.values[0] ?? null;
      checked['after.id'] = keyset?.id ?? null;
    } else if (value !== null && value !== undefined) {
      // Filters, orderings, anything new: graphql-js and the services decide.
      return undefined;
    }
  }
  for (const [name, rule] of Object.entries(slot.bound)) {
    if (rule !== 'cursor' && !(name in checked)) return undefined;
  }
  return checked;
}
