import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { once } from 'node:events';
import { toAppError } from '../db/errors.js';
import type { GraphQLContext, RequestParts } from '../graphql/context.js';
import type { Logger } from '../logger.js';
import { exportTenant, type ExportSink } from '../modules/admin/admin.service.js';
import type { RequestTarget } from './server.js';

const STATUS: Record<string, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  BAD_USER_INPUT: 400,
  SERVICE_UNAVAILABLE: 503,
};

/**
 * GET /admin/export?id=<tenant id>&reason=<why> with an operator's bearer token: the tenant as one
 * streamed JSON document. A GraphQL response cannot stream a document of unbounded size, so this
 * is a plain route, but it takes the same way through the bypass path as the admin fields:
 * verified operator, one audited admin transaction. NOTE: the parameter is `id`, not `tenant`:
 * `?tenant=` is how any request names the tenant it acts in (TENANT_QUERY_PARAM), and an operator
 * is usually no member of the tenant they export.
 */
export function createExportRoute(
  createContext: (request: RequestParts) => Promise<GraphQLContext>,
  log: Logger,
) {
  return async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: RequestTarget,
  ): Promise<void> => {
    const requestId =
      (typeof req.headers['x-request-id'] === 'string' &&
        req.headers['x-request-id'].slice(0, 100)) ||
      randomUUID();
    res.setHeader('x-request-id', requestId);
    let context: GraphQLContext | undefined;
    let aborted = false;
    res.on('close', () => {
      if (!res.writableFinished) aborted = true;
    });
    const sink: ExportSink = {
      begin(filename) {
        res.writeHead(200, {
          'content-type': 'application/json; charset=utf-8',
          'content-disposition': `attachment; filename="${filename}"`,
        });
      },
      async write(chunk) {
        if (aborted) return;
        if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
      },
      get aborted() {
        return aborted;
      },
    };
    try {
      if (req.method !== 'GET') {
        res.writeHead(405, { allow: 'GET', 'content-type': 'application/json; charset=utf-8' });
        res.end(
          JSON.stringify({
            errors: [{ message: 'Use GET.', extensions: { code: 'BAD_REQUEST' } }],
          }),
        );
        return;
      }
      context = await createContext({ headers: req.headers, search: url.searchParams, requestId });
      if (context.authError) throw context.authError;
      await exportTenant(
        context,
        url.searchParams.get('id') ?? '',
        url.searchParams.get('reason') ?? '',
        sink,
      );
      await context.db.finish(true);
      res.end();
    } catch (error) {
      await context?.db.finish(false).catch(() => undefined);
      const known = toAppError(error);
      if (res.headersSent) {
        log.error({ err: error, requestId }, 'tenant export failed while streaming');
        res.destroy();
        return;
      }
      const errorId = randomUUID();
      if (!known) log.error({ err: error, requestId, errorId }, 'tenant export failed');
      const status = known ? (STATUS[known.code] ?? 400) : 500;
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(
        JSON.stringify({
          errors: [
            known
              ? { message: known.message, extensions: { code: known.code } }
              : {
                  message: `Internal server error (error id ${errorId}).`,
                  extensions: { code: 'INTERNAL_SERVER_ERROR', errorId },
                },
          ],
        }),
      );
    }
  };
}
