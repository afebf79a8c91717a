import { createHash } from 'node:crypto';
import { BadUserInputError } from '../../errors.js';
import { pageSize, type PageInfo } from '../../graphql/connection.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { byKey } from '../../graphql/loaders.js';
import { requireText } from '../../graphql/validate.js';
import { UUID } from '../../formats.js';
import { memberRead } from '../../tenancy/permissions.js';
import { loadComment } from '../comment/comment.service.js';
import { tagNode, type NodeTypeName } from '../node/node.type.js';
import { loadProject } from '../project/project.service.js';
import { loadTask } from '../task/task.service.js';
import type { SearchArgs } from './search.args.js';
import {
  MATCH_START,
  MATCH_STOP,
  countSearchHits,
  findHeadlines,
  findSearchHits,
  type SearchHitRow,
  type SearchPosition,
} from './search.repository.js';
import {
  SEARCHED_TYPE,
  type HighlightPart,
  type SearchConnection,
  type SearchEdge,
} from './search.type.js';

const QUERY = { min: 1, max: 200 };
const ALL_TYPES: readonly NodeTypeName[] = ['Project', 'Task', 'Comment'];
// What PostgreSQL prints for a real: checked before it is cast back, so a forged cursor is a
// BAD_USER_INPUT and never a failed cast that aborts the operation's transaction.
const REAL = /^-?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?$/i;

/**
 * Names a search (its words and types), so that a cursor of one search is refused by another
 * instead of silently starting somewhere in the middle of different hits.
 */
function searchTag(text: string, types: readonly NodeTypeName[]): string {
  return createHash('sha256')
    .update(`${text}\n${[...types].sort().join(',')}`)
    .digest('base64url')
    .slice(0, 12);
}

function encodeCursor(tag: string, position: SearchPosition): string {
  const value = ['SEARCH', tag, position.exact ? 1 : 0, position.rank, position.id];
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodeCursor(
  cursor: string | null | undefined,
  tag: string,
  field: 'after' | 'before',
): SearchPosition | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  const refuse = () => new BadUserInputError(field, `${field} is not a cursor of this search.`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw refuse();
  }
  if (!Array.isArray(parsed) || parsed.length !== 5) throw refuse();
  const [kind, cursorTag, exact, rank, id] = parsed as unknown[];
  if (kind !== 'SEARCH' || cursorTag !== tag || (exact !== 0 && exact !== 1)) throw refuse();
  if (typeof rank !== 'string' || !REAL.test(rank) || rank.length > 40) throw refuse();
  if (typeof id !== 'string' || !UUID.test(id)) throw refuse();
  return { exact: exact === 1, rank, id: id.toLowerCase() };
}

/** The types asked for, each once, in a fixed order; omitted or null means all. */
function searchedTypes(types: SearchArgs['types']): NodeTypeName[] {
  if (types === null || types === undefined) return [...ALL_TYPES];
  const asked = new Set(types.map((t) => SEARCHED_TYPE[t]));
  return ALL_TYPES.filter((t) => asked.has(t));
}

async function loadHit(ctx: GraphQLContext, hit: SearchHitRow) {
  const node =
    hit.typename === 'Project'
      ? await loadProject(ctx, hit.id)
      : hit.typename === 'Task'
        ? await loadTask(ctx, hit.id)
        : await loadComment(ctx, hit.id);
  return node && tagNode(hit.typename, { ...node });
}

/**
 * search(query:): the current tenant's projects, tasks and comments whose text matches, exact
 * title matches first, then by rank. A query of only stop words (with a language configured)
 * or punctuation matches nothing: an empty page, not an error.
 */
export function search(ctx: GraphQLContext, args: SearchArgs): Promise<SearchConnection> {
  return memberRead(ctx.db, async () => {
    const text = requireText('query', args.query, QUERY);
    const types = searchedTypes(args.types);
    // As the lists page (pageArgs): `last` reads from the end, and then `first` is ignored.
    const backward = args.last !== null && args.last !== undefined;
    const size = backward ? pageSize(args.last, 'last') : pageSize(args.first, 'first');
    const tag = searchTag(text, types);
    const after = decodeCursor(args.after, tag, 'after');
    const before = decodeCursor(args.before, tag, 'before');
    // Relay: beyond a cursor of this search lie hits; beyond the page read, whatever the extra row says.
    const more = (read: number) => ({
      hasNextPage: backward ? Boolean(before) : read > size,
      hasPreviousPage: backward ? read > size : Boolean(after),
    });
    if (types.length === 0) return connection([], more(0), () => 0);
    const trx = await ctx.db.transaction();
    const tenant = ctx.db.routingTenant();
    const rows = await findSearchHits(trx, tenant, text, types, size, { after, before, backward });
    const page = rows.slice(0, size);
    if (backward) page.reverse();
    const nodes = await Promise.all(page.map((hit) => loadHit(ctx, hit)));
    const edges: SearchEdge[] = [];
    for (const [i, hit] of page.entries()) {
      const node = nodes[i];
      // Deleted between the two statements: as if it had not matched.
      if (!node) continue;
      edges.push({
        cursor: encodeCursor(tag, hit),
        node,
        rank: Number(hit.rank),
        exactMatch: hit.exact,
        query: text,
        hit: { typename: hit.typename, id: hit.id },
      });
    }
    let counted: Promise<number> | undefined;
    return connection(
      edges,
      more(rows.length),
      () => (counted ??= countSearchHits(trx, tenant, text, types)),
    );
  });
}

function connection(
  edges: SearchEdge[],
  { hasNextPage, hasPreviousPage }: { hasNextPage: boolean; hasPreviousPage: boolean },
  count: () => number | Promise<number>,
): SearchConnection {
  const pageInfo: PageInfo = {
    hasNextPage,
    hasPreviousPage,
    startCursor: edges[0]?.cursor ?? null,
    endCursor: edges.at(-1)?.cursor ?? null,
  };
  return {
    edges,
    pageInfo,
    get totalCount() {
      return count();
    },
  };
}

/** The text a highlight is cut into: matching words and what lies between them. */
export function highlightParts(headline: string): HighlightPart[] {
  const parts: HighlightPart[] = [];
  for (const piece of headline.split(MATCH_START)) {
    const [matched, rest] = piece.includes(MATCH_STOP)
      ? piece.split(MATCH_STOP, 2)
      : [undefined, piece];
    if (matched) parts.push({ text: matched, match: true });
    if (rest) parts.push({ text: rest, match: false });
  }
  return parts;
}

/** SearchEdge.highlight: the hits of a page that ask for it share one ts_headline statement. */
export async function searchHighlight(
  ctx: GraphQLContext,
  edge: SearchEdge,
): Promise<HighlightPart[]> {
  type Key = SearchEdge['hit'];
  const loader = ctx.loaders.get<Key, string | undefined>(
    `search.highlight:${edge.query}`,
    async (keys) => {
      const rows = await findHeadlines(
        await ctx.db.transaction(),
        ctx.db.routingTenant(),
        edge.query,
        keys,
      );
      const keyOf = (k: Key) => `${k.typename}:${k.id}`;
      return byKey(keys.map(keyOf), rows, keyOf).map((row) => row?.headline);
    },
  );
  return highlightParts((await loader.load(edge.hit)) ?? '');
}
