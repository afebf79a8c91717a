import pg from 'pg';

/** Sessions of the API that serve no operation: live-event listening and (Citus) polling. */
const BACKGROUND = new Set(['tenantql-listener', 'tenantql-live-poller']);

/**
 * Every pg.Client#query call (one per round trip) while `run` runs, as the statements it sent
 * joined by ' + ': those sent ahead in the same batch (src/db/pool.ts) first. The background
 * sessions' queries are left out.
 */
export async function roundTrips(run: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  // eslint-disable-next-line @typescript-eslint/unbound-method -- restored as is, called with apply
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const session = (this as { connectionParameters?: { application_name?: string } })
      .connectionParameters?.application_name;
    if (session !== undefined && BACKGROUND.has(session)) {
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    }
    const [first] = args;
    const query = first as { text?: string; ahead?: { text: string }[] } | undefined;
    const text = typeof first === 'string' ? first : query?.text;
    seen.push([...(query?.ahead ?? []).map((a) => a.text), text ?? '?'].join(' + '));
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try {
    await run();
  } finally {
    pg.Client.prototype.query = original;
  }
  return seen;
}
