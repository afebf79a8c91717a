import { sql, type RawBuilder } from 'kysely';
import { anyId } from '../../db/any-id.js';
import type { TenantKey, Tx } from '../../db/operation.js';
import type { NodeTypeName } from '../node/node.type.js';

// Every statement names its tenant (see project.repository.ts); with the (tenant_id,
// search_vector) GIN indexes of sql/0050 a search reads its own tenant's posting lists only.
// Documents and queries use the same text search configuration, app.search (SEARCH_LANGUAGE).

/** A hit's position in the order: exact title matches first, then by rank, then by id. */
export interface SearchPosition {
  exact: boolean;
  /** ts_rank as PostgreSQL prints a real: read back to exactly the same value. */
  rank: string;
  id: string;
}

export interface SearchHitRow extends SearchPosition {
  typename: NodeTypeName;
}

const TABLE = { Project: 'app.projects', Task: 'app.tasks', Comment: 'app.comments' } as const;

const tsQuery = (text: string) => sql`websearch_to_tsquery('app.search'::regconfig, ${text})`;

/** What each type is searched by: the text that ranks first when it equals the query. */
function arm(typename: NodeTypeName, tenantId: TenantKey, text: string): RawBuilder<unknown> {
  const title = { Project: sql`r.name`, Task: sql`r.title`, Comment: undefined }[typename];
  const exact = title ? sql`lower(btrim(${title})) = lower(btrim(${text}))` : sql`false`;
  // Normalization 1 divides by 1 + log(length): a long description does not win by repetition.
  return sql`
    select ${typename}::text as typename, r.id, ${exact} as exact,
           ts_rank(r.search_vector, ${tsQuery(text)}, 1) as rank
      from ${sql.table(TABLE[typename])} r
     where r.${sql.ref('tenant_id')} = ${tenantId} and r.search_vector @@ ${tsQuery(text)}`;
}

function hits(types: readonly NodeTypeName[], tenantId: TenantKey, text: string) {
  return sql.join(
    types.map((t) => arm(t, tenantId, text)),
    sql` union all `,
  );
}

/** Where a page lies: after and/or before a hit, read forward (best first) or backward. */
export interface SearchWindow {
  after: SearchPosition | undefined;
  before: SearchPosition | undefined;
  backward: boolean;
}

const position = (p: SearchPosition) => sql`(${p.exact}::boolean, ${p.rank}::real, ${p.id}::uuid)`;

/**
 * One page of hits in the window, one more than asked for to tell whether more follow (going
 * forward) or precede (going backward), in the order read: best first forward, worst first
 * backward. The list's order is (exact, rank, id) descending, so hits after a cursor compare
 * below it and hits before it above.
 */
export async function findSearchHits(
  trx: Tx,
  tenantId: TenantKey,
  text: string,
  types: readonly NodeTypeName[],
  size: number,
  window: SearchWindow,
): Promise<SearchHitRow[]> {
  const bounds = [
    ...(window.after ? [sql`(h.exact, h.rank, h.id) < ${position(window.after)}`] : []),
    ...(window.before ? [sql`(h.exact, h.rank, h.id) > ${position(window.before)}`] : []),
  ];
  const where = bounds.length > 0 ? sql.join(bounds, sql` and `) : sql`true`;
  const direction = window.backward ? sql`asc` : sql`desc`;
  const { rows } = await sql<SearchHitRow>`
    select h.typename, h.id, h.exact, h.rank::text as rank
      from (${hits(types, tenantId, text)}) h
     where ${where}
     order by h.exact ${direction}, h.rank ${direction}, h.id ${direction}
     limit ${size + 1}`.execute(trx);
  return rows;
}

export async function countSearchHits(
  trx: Tx,
  tenantId: TenantKey,
  text: string,
  types: readonly NodeTypeName[],
): Promise<number> {
  const { rows } = await sql<{ count: number }>`
    select count(*)::int as count from (${hits(types, tenantId, text)}) h`.execute(trx);
  return rows[0]?.count ?? 0;
}

/** Marks ts_headline puts around matching words; removed from the text beforehand. */
export const MATCH_START = '\u0002';
export const MATCH_STOP = '\u0003';
// ts_headline's defaults otherwise: the best passage of 15–35 words around the matches.
const HEADLINE_OPTIONS = `StartSel=${MATCH_START}, StopSel=${MATCH_STOP}`;

/** ts_headline of each hit's text, for the hits of one search, in one statement. */
export async function findHeadlines(
  trx: Tx,
  tenantId: TenantKey,
  text: string,
  hitsOf: readonly { typename: NodeTypeName; id: string }[],
): Promise<{ typename: NodeTypeName; id: string; headline: string }[]> {
  const documents = {
    Project: sql`r.name || E'\\n' || r.description`,
    Task: sql`r.title || E'\\n' || r.description`,
    Comment: sql`r.body`,
  };
  const arms = (['Project', 'Task', 'Comment'] as const).flatMap((typename) => {
    const ids = hitsOf.filter((h) => h.typename === typename).map((h) => h.id);
    if (ids.length === 0) return [];
    const document = sql`translate(${documents[typename]}, ${MATCH_START + MATCH_STOP}, '')`;
    return [
      sql`
        select ${typename}::text as typename, r.id,
               ts_headline('app.search'::regconfig, ${document}, ${tsQuery(text)},
                           ${HEADLINE_OPTIONS}) as headline
          from ${sql.table(TABLE[typename])} r
         where r.${sql.ref('tenant_id')} = ${tenantId} and r.id = ${anyId(ids)}`,
    ];
  });
  if (arms.length === 0) return [];
  const { rows } = await sql<{ typename: NodeTypeName; id: string; headline: string }>`
    ${sql.join(arms, sql` union all `)}`.execute(trx);
  return rows;
}
