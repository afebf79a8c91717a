import type { FormattedExecutionResult } from 'graphql';

/**
 * An operation's `data` as PostgreSQL wrote it: JSON text that reaches the response as it is,
 * never parsed into objects and serialised again. Anything else that looks at it gets the
 * parsed value (toJSON).
 */
export class PlannedData {
  constructor(readonly json: string) {}

  toJSON(): unknown {
    return JSON.parse(this.json);
  }
}

/**
 * Apollo's stringifyResult: compact JSON, with planned data spliced in as the text it is. The
 * rest of the result (errors, extensions) is serialised as usual, after `data` as graphql-js
 * orders it.
 */
export function stringifyResult(result: FormattedExecutionResult): string {
  if (!(result.data instanceof PlannedData)) return JSON.stringify(result);
  const { data, ...rest } = result;
  const others = JSON.stringify(rest);
  return `{"data":${data.json}${others === '{}' ? '}' : `,${others.slice(1)}`}`;
}
