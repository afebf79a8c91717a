import pg from 'pg';

/** Sessions of the API that serve no operation: live-event listening and (Citus) polling. */
export const BACKGROUND_SESSIONS = ['tenantql-listener', 'tenantql-live-poller'];

export interface SentStatement {
  text: string;
  values: unknown[];
}

/** The application_name a pg.Client connected with (undefined for tests' own clients). */
export function sessionOf(client: pg.Client): string | undefined {
  return (client as { connectionParameters?: { application_name?: string } }).connectionParameters
    ?.application_name;
}

/**
 * The statements one pg.Client#query call sends: those sent ahead in the same batch
 * (src/db/pool.ts) first, then the query itself.
 */
export function statementsOf(args: readonly unknown[]): SentStatement[] {
  const [first] = args;
  if (typeof first === 'string') return [{ text: first, values: [] }];
  const query = first as
    | { text?: string; values?: unknown[]; ahead?: { text: string; values?: unknown[] }[] }
    | undefined;
  return [
    ...(query?.ahead ?? []).map((a) => ({ text: a.text, values: a.values ?? [] })),
    { text: query?.text ?? '?', values: query?.values ?? [] },
  ];
}

/**
 * Every pg.Client#query call (one per round trip) while `run` runs, as the statements it sent
 * (statementsOf). The background sessions' queries are left out.
 */
export async function recordTrips(run: () => Promise<unknown>): Promise<SentStatement[][]> {
  const trips: SentStatement[][] = [];
  // eslint-disable-next-line @typescript-eslint/unbound-method -- restored as is, called with apply
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const session = sessionOf(this);
    if (session === undefined || !BACKGROUND_SESSIONS.includes(session)) {
      trips.push(statementsOf(args));
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
