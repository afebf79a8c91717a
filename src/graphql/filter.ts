import { LocalDateResolver } from 'graphql-scalars';
import { Field, ID, InputType } from 'type-graphql';
import type { Condition, FilterColumn, ListOperator, ValueOperator } from '../db/filter.js';
import { BadUserInputError } from '../errors.js';
import { UUID } from '../formats.js';

/** How deep `and`/`or`/`not` may nest: the filter argument itself is level 1. */
export const MAX_FILTER_DEPTH = 5;
/** Values an `in`/`notIn` list may hold. */
export const MAX_FILTER_VALUES = 100;
/** Characters of a text operand (`contains: "…"`). */
export const MAX_FILTER_TEXT = 1_000;

const OPERATORS_NOTE = 'Every operator given must hold; an operator given null is ignored.';

/** Descriptions of the combinator fields every filter type has. */
export const COMBINATORS = {
  and: 'Every one of these holds.',
  or: 'At least one of these holds.',
  not: 'This does not hold.',
} as const;

@InputType({ description: `Conditions on an id. ${OPERATORS_NOTE}` })
export class IDFilter {
  @Field(() => ID, { nullable: true })
  eq?: string | null;

  @Field(() => ID, { nullable: true })
  ne?: string | null;

  @Field(() => [ID], { nullable: true, description: `At most ${MAX_FILTER_VALUES} ids.` })
  in?: string[] | null;

  @Field(() => [ID], { nullable: true, description: `At most ${MAX_FILTER_VALUES} ids.` })
  notIn?: string[] | null;
}

@InputType({
  description: `Conditions on an optional id: \`ne\` and \`notIn\` match rows without one. ${OPERATORS_NOTE}`,
})
export class OptionalIDFilter extends IDFilter {
  @Field(() => Boolean, { nullable: true, description: 'true: rows without one; false: with.' })
  isNull?: boolean | null;
}

@InputType({
  description: `Conditions on text. \`eq\`, \`ne\`, \`in\` and \`notIn\` compare exactly; \`contains\` and \`startsWith\` ignore case and match \`%\`, \`_\` and \`\\\` as themselves. ${OPERATORS_NOTE}`,
})
export class StringFilter {
  @Field(() => String, { nullable: true })
  eq?: string | null;

  @Field(() => String, { nullable: true })
  ne?: string | null;

  @Field(() => [String], { nullable: true })
  in?: string[] | null;

  @Field(() => [String], { nullable: true })
  notIn?: string[] | null;

  @Field(() => String, { nullable: true })
  contains?: string | null;

  @Field(() => String, { nullable: true })
  startsWith?: string | null;
}

@InputType({ description: `Conditions on a timestamp. ${OPERATORS_NOTE}` })
export class DateTimeFilter {
  @Field(() => Date, { nullable: true })
  lt?: Date | null;

  @Field(() => Date, { nullable: true })
  lte?: Date | null;

  @Field(() => Date, { nullable: true })
  gt?: Date | null;

  @Field(() => Date, { nullable: true })
  gte?: Date | null;
}

@InputType({
  description: `Conditions on an optional calendar date: comparisons never match rows without one, \`ne\` does. ${OPERATORS_NOTE}`,
})
export class OptionalDateFilter {
  @Field(() => LocalDateResolver, { nullable: true })
  eq?: string | null;

  @Field(() => LocalDateResolver, { nullable: true })
  ne?: string | null;

  @Field(() => LocalDateResolver, { nullable: true })
  lt?: string | null;

  @Field(() => LocalDateResolver, { nullable: true })
  lte?: string | null;

  @Field(() => LocalDateResolver, { nullable: true })
  gt?: string | null;

  @Field(() => LocalDateResolver, { nullable: true })
  gte?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'true: rows without one; false: with.' })
  isNull?: boolean | null;
}

/** `<Enum>Filter`: eq, ne, in and notIn over an enum's values. */
export function EnumFilter<E extends Record<string, string>>(name: string, values: E) {
  @InputType(`${name}Filter`, { description: `Conditions on a ${name}. ${OPERATORS_NOTE}` })
  class Filter {
    @Field(() => values, { nullable: true })
    eq?: E[keyof E] | null;

    @Field(() => values, { nullable: true })
    ne?: E[keyof E] | null;

    @Field(() => [values], { nullable: true })
    in?: E[keyof E][] | null;

    @Field(() => [values], { nullable: true })
    notIn?: E[keyof E][] | null;
  }
  return Filter;
}

/** `<Enum>Filter` for an enum with an order (a priority): comparisons too, in declaration order. */
export function OrderedEnumFilter<E extends Record<string, string>>(name: string, values: E) {
  @InputType(`${name}Filter`, {
    description: `Conditions on a ${name}; lt/lte/gt/gte compare ${Object.keys(values).join(' < ')}. ${OPERATORS_NOTE}`,
  })
  class Filter {
    @Field(() => values, { nullable: true })
    eq?: E[keyof E] | null;

    @Field(() => values, { nullable: true })
    ne?: E[keyof E] | null;

    @Field(() => [values], { nullable: true })
    in?: E[keyof E][] | null;

    @Field(() => [values], { nullable: true })
    notIn?: E[keyof E][] | null;

    @Field(() => values, { nullable: true })
    lt?: E[keyof E] | null;

    @Field(() => values, { nullable: true })
    lte?: E[keyof E] | null;

    @Field(() => values, { nullable: true })
    gt?: E[keyof E] | null;

    @Field(() => values, { nullable: true })
    gte?: E[keyof E] | null;
  }
  return Filter;
}

/** What a field of a filter input means. */
export type FilterRule =
  /** An operator input (`title: { contains: "x" }`) on the repository's `field`. */
  | { field: string; column: FilterColumn; shorthand?: false }
  /** A plain value meaning `eq` (the filter fields that predate the operators: `status: TODO`). */
  | { field: string; column: FilterColumn; shorthand: true }
  /** Anything else (`search`): read by the service. */
  | { read: (value: unknown, path: string) => Condition | undefined };

const VALUE_OPERATORS: readonly ValueOperator[] = [
  'eq',
  'ne',
  'lt',
  'lte',
  'gt',
  'gte',
  'contains',
  'startsWith',
];
const LIST_OPERATORS: readonly ListOperator[] = ['in', 'notIn'];

function isValueOperator(name: string): name is ValueOperator {
  return (VALUE_OPERATORS as readonly string[]).includes(name);
}

function isListOperator(name: string): name is ListOperator {
  return (LIST_OPERATORS as readonly string[]).includes(name);
}

/** A value of a column's type, checked as the column needs it; GraphQL checked the rest. */
function operand(value: unknown, column: FilterColumn, path: string): string | Date {
  if (value instanceof Date) return value;
  if (typeof value !== 'string') throw new BadUserInputError(path, `${path} has no value.`);
  if (column.type === 'uuid') {
    if (!UUID.test(value)) throw new BadUserInputError(path, `${path} must be an id (uuid).`);
    return value.toLowerCase();
  }
  // Postgres text cannot hold NUL; refused here rather than failing the statement.
  if (value.includes('\u0000')) {
    throw new BadUserInputError(path, `${path} cannot contain NUL characters.`);
  }
  if (value.length > MAX_FILTER_TEXT) {
    throw new BadUserInputError(path, `${path} must be at most ${MAX_FILTER_TEXT} characters.`);
  }
  return value;
}

/** Reads the operators of one field's operator input. */
function operators(input: object, rule: { field: string; column: FilterColumn }, path: string) {
  const conditions: Condition[] = [];
  for (const [op, value] of Object.entries(input) as [string, unknown][]) {
    if (value === null || value === undefined) continue;
    const at = `${path}.${op}`;
    if (op === 'isNull' && typeof value === 'boolean') {
      conditions.push({ kind: 'isNull', field: rule.field, value });
    } else if (isListOperator(op) && Array.isArray(value)) {
      if (value.length > MAX_FILTER_VALUES) {
        throw new BadUserInputError(at, `${at} takes at most ${MAX_FILTER_VALUES} values.`);
      }
      const values = value.map((v: unknown, i) => String(operand(v, rule.column, `${at}.${i}`)));
      conditions.push({ kind: 'list', field: rule.field, op, values });
    } else if (isValueOperator(op)) {
      conditions.push({
        kind: 'value',
        field: rule.field,
        op,
        value: operand(value, rule.column, at),
      });
    } else {
      throw new Error(`Unknown filter operator ${at}.`);
    }
  }
  return conditions;
}

/**
 * A filter input as a condition tree, every value checked; undefined when it asks for nothing.
 * BAD_USER_INPUT (field `filter`) when `and`/`or`/`not` nest deeper than MAX_FILTER_DEPTH.
 */
export function readFilter(
  input: object | null | undefined,
  rules: Readonly<Record<string, FilterRule>>,
  path = 'filter',
  depth = 1,
): Condition | undefined {
  if (input === null || input === undefined) return undefined;
  if (depth > MAX_FILTER_DEPTH) {
    throw new BadUserInputError(
      'filter',
      `filter nests and/or/not more than ${MAX_FILTER_DEPTH} levels deep (at ${path}); flatten it.`,
    );
  }
  const conditions: Condition[] = [];
  const nested = (value: unknown, at: string) =>
    readFilter(value as object, rules, at, depth + 1) ?? { kind: 'and' as const, of: [] };
  for (const [name, value] of Object.entries(input) as [string, unknown][]) {
    if (value === null || value === undefined) continue;
    const at = `${path}.${name}`;
    if ((name === 'and' || name === 'or') && Array.isArray(value)) {
      conditions.push({ kind: name, of: value.map((v: unknown, i) => nested(v, `${at}.${i}`)) });
      continue;
    }
    if (name === 'not') {
      conditions.push({ kind: 'not', of: nested(value, at) });
      continue;
    }
    const rule = rules[name];
    // Every field of a filter type has a rule: a missing one is a bug, never a silent "match all".
    if (!rule) throw new Error(`No filter rule for ${at}.`);
    if ('read' in rule) {
      const condition = rule.read(value, at);
      if (condition) conditions.push(condition);
    } else if (rule.shorthand) {
      conditions.push({
        kind: 'value',
        field: rule.field,
        op: 'eq',
        value: operand(value, rule.column, at),
      });
    } else if (typeof value === 'object') {
      conditions.push(...operators(value, rule, at));
    }
  }
  if (conditions.length === 0) return undefined;
  return conditions.length === 1 ? conditions[0] : { kind: 'and', of: conditions };
}

/** Operator rules for each field of `columns`, by the same names. */
export function rulesFor(
  columns: Readonly<Record<string, FilterColumn>>,
): Record<string, FilterRule> {
  return Object.fromEntries(
    Object.entries(columns).map(([field, column]) => [field, { field, column }]),
  );
}
