import { BadUserInputError } from '../errors.js';
import { UUID } from '../formats.js';

/** An `ID!` argument: ids are UUIDs, so anything else is a client mistake, not a miss. */
export function requireId(field: string, value: string): string {
  if (!UUID.test(value)) throw new BadUserInputError(field, `${field} must be an id (uuid).`);
  return value.toLowerCase();
}

export function optionalId(field: string, value: string | null | undefined): string | null {
  return value === null || value === undefined ? null : requireId(field, value);
}

export interface TextRule {
  min: number;
  max: number;
  /** Keep surrounding whitespace (free text such as descriptions, where indentation may matter). */
  keepWhitespace?: boolean;
}

/** Text whose trimmed length is within bounds; trimmed unless the rule keeps whitespace. */
export function requireText(
  field: string,
  value: string | null | undefined,
  { min, max, keepWhitespace = false }: TextRule,
): string {
  if (value === null || value === undefined) {
    throw new BadUserInputError(field, `${field} is required.`);
  }
  // Postgres text cannot hold NUL; refused here rather than failing the statement.
  if (value.includes('\u0000')) {
    throw new BadUserInputError(field, `${field} cannot contain NUL characters.`);
  }
  const trimmed = value.trim();
  const kept = keepWhitespace ? value : trimmed;
  if (trimmed.length < min || kept.length > max) {
    throw new BadUserInputError(
      field,
      min > 0
        ? `${field} must be ${min}–${max} characters.`
        : `${field} must be at most ${max} characters.`,
    );
  }
  return kept;
}

/** A field of an update input: undefined leaves it alone, null is refused (it cannot be cleared). */
export function updatedText(
  field: string,
  value: string | null | undefined,
  rule: TextRule,
): string | undefined {
  return value === undefined ? undefined : requireText(field, value, rule);
}

/** An enum field of an update input: GraphQL checked the value; null is refused. */
export function updatedValue<T>(field: string, value: T | null | undefined): T | undefined {
  if (value === null) throw new BadUserInputError(field, `${field} cannot be null.`);
  return value;
}

/** The changes of an update input without the fields left out. */
export function definedOnly<T extends Record<string, unknown>>(
  value: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}
