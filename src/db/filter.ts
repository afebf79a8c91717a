import {
  sql,
  type Expression,
  type ExpressionBuilder,
  type RawBuilder,
  type SqlBool,
} from 'kysely';

/** A column a list can be filtered on, as the repository that owns the table describes it. */
export interface FilterColumn {
  column: string;
  type: 'uuid' | 'text' | 'date' | 'timestamptz';
  /** Optional columns: `isNull` applies, and every other operator is two-valued over nulls. */
  nullable?: boolean;
  /**
   * Enum values in their order, for `lt`/`lte`/`gt`/`gte` on an enum stored as text (a task's
   * priority): compared as the set of values on that side, which an index on the column serves.
   */
  ranks?: readonly string[];
}

export type ValueOperator = 'eq' | 'ne' | 'lt' | 'lte' | 'gt' | 'gte' | 'contains' | 'startsWith';
export type ListOperator = 'in' | 'notIn';

/** A filter as a tree of conditions over named fields (keys of a repository's FilterColumn map). */
export type Condition =
  | { kind: 'and' | 'or'; of: readonly Condition[] }
  | { kind: 'not'; of: Condition }
  | { kind: 'value'; field: string; op: ValueOperator; value: string | Date }
  | { kind: 'list'; field: string; op: ListOperator; values: readonly string[] }
  | { kind: 'isNull'; field: string; value: boolean };

/** `\`, `%` and `_` match themselves in a LIKE pattern (PostgreSQL's default escape is `\`). */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

const COMPARISON = { lt: '<', lte: '<=', gt: '>', gte: '>=' } as const;

/**
 * The condition as a WHERE expression. Values are bound parameters and columns come from the
 * repository's map, so nothing a client sends becomes SQL text. Every leaf is two-valued (a null
 * column makes it false, or true for `ne`/`notIn`, never NULL), so `not` is the exact complement
 * of what it wraps.
 */
export function filterExpression<DB, TB extends keyof DB>(
  eb: ExpressionBuilder<DB, TB>,
  condition: Condition,
  columns: Readonly<Record<string, FilterColumn>>,
): Expression<SqlBool> {
  switch (condition.kind) {
    case 'and':
      return eb.and(condition.of.map((c) => filterExpression(eb, c, columns)));
    case 'or':
      return eb.or(condition.of.map((c) => filterExpression(eb, c, columns)));
    case 'not':
      return eb.not(filterExpression(eb, condition.of, columns));
    default:
      return leaf(condition, columnOf(columns, condition.field));
  }
}

function columnOf(columns: Readonly<Record<string, FilterColumn>>, field: string): FilterColumn {
  const column = columns[field];
  // The services only name fields of the repository's map: this is a programming error.
  if (!column) throw new Error(`No filter column ${field}.`);
  return column;
}

type Leaf = Exclude<Condition, { kind: 'and' | 'or' | 'not' }>;

function leaf(condition: Leaf, spec: FilterColumn): RawBuilder<SqlBool> {
  const ref = sql.ref(spec.column);
  const type = sql.raw(spec.type);
  // Rules out the NULL a comparison with a null column would give.
  const present = (e: RawBuilder<SqlBool>) =>
    spec.nullable ? sql<SqlBool>`(${e} and ${ref} is not null)` : e;
  if (condition.kind === 'isNull') {
    return condition.value ? sql<SqlBool>`${ref} is null` : sql<SqlBool>`${ref} is not null`;
  }
  if (condition.kind === 'list') {
    const any = sql<SqlBool>`${ref} = any(${condition.values}::${type}[])`;
    if (condition.op === 'in') return present(any);
    return spec.nullable ? sql<SqlBool>`(${ref} is null or not ${any})` : sql<SqlBool>`not ${any}`;
  }
  const { op, value } = condition;
  const bound = sql`${value}::${type}`;
  switch (op) {
    case 'eq':
      return present(sql<SqlBool>`${ref} = ${bound}`);
    case 'ne':
      return sql<SqlBool>`${ref} is distinct from ${bound}`;
    case 'contains':
      return present(sql<SqlBool>`${ref} ilike ${`%${escapeLike(String(value))}%`}`);
    case 'startsWith':
      return present(sql<SqlBool>`${ref} ilike ${`${escapeLike(String(value))}%`}`);
    default: {
      if (spec.ranks) {
        const at = spec.ranks.indexOf(String(value));
        const side = spec.ranks.filter((_, i) =>
          op === 'lt' ? i < at : op === 'lte' ? i <= at : op === 'gt' ? i > at : i >= at,
        );
        return leaf({ kind: 'list', field: condition.field, op: 'in', values: side }, spec);
      }
      return present(sql<SqlBool>`${ref} ${sql.raw(COMPARISON[op])} ${bound}`);
    }
  }
}
