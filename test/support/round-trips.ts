import pg from 'pg';

/** Sessions of the API that serve no operation: live-event listening and (Citus) polling. */
export const BACKGROUND_SESSIONS = ['tenantql-listener', 'tenantql-live-poller'];

export interface SentStatement {
  text: string;
  values: unknown[];
}

/**
 * Every pg.Client#query call (one per round trip) while `run` runs, as the statements it sent:
 * those sent ahead in the same batch (src/db/pool.ts) first, then the query itself. The
 * background sessions' queries are left out.
 */
export async function recordTrips(run: () => Promise<unknown>): Promise<SentStatement[][]> {
  const trips: SentStatement[][] = [];
  // eslint-disable-next-line @typescript-eslint/unbound-method -- restored as is, called with apply
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const session = (this as { connectionParameters?: { application_name?: string } })
      .connectionParameters?.application_name;
    if (session === undefined || !BACKGROUND_SESSIONS.includes(session)) {
      const [first] = args;
      const query = first as
        | { text?: string; values?: unknown[]; ahead?: { text: string; values?: unknown[] }[] }
        | undefined;
      const text = typeof first === 'string' ? first : (query?.text ?? '?');
      const values = typeof first === 'string' ? [] : (query?.values ?? []);
      trips.push([
        ...(query?.ahead ?? []).map((a) => ({ text: a.text, values: a.values ?? [] })),
        { text, values },
      ]);
    }
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try {
    await run();
  } finally {
    pg.Client.prototype.query = original;
  }
  return trips;
}

/** The round trips of `run`, each as the statements it sent joined by ' + '. */
export async function roundTrips(run: () => Promise<unknown>): Promise<string[]> {
  const trips = await recordTrips(run);
  return trips.map((trip) => trip.map((statement) => statement.text).join(' + '));
}
