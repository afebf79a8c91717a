import { createRequire } from 'node:module';
import type { ApolloServerPlugin } from '@apollo/server';
import type * as Api from '@opentelemetry/api';
import type { TracingConfig } from '../config.js';
import type { GraphQLContext } from '../graphql/context.js';
import type { OperationStats } from '../db/operation.js';
import type { Logger } from '../logger.js';

// NOTE: nothing of OpenTelemetry is imported here except types. Its packages load through
// import() in startTracing only, so with tracing off the SDK is never loaded and the request
// path pays one `undefined` check per hook. No static import, not even in a module imported only
// from here: esbuild hoists the packages a bundled module imports to the top of dist/main.js.

/** The transaction of one operation (src/db/operation.ts), as a span. */
export interface TransactionSpan {
  end(stats: OperationStats): void;
}

/** What the hooks below reach once startTracing has loaded the SDK. */
interface Active {
  api: typeof Api;
  tracer: Api.Tracer;
  /** The spans traceOperation made: the Apollo plugin names them and adds the tenant. */
  operations: WeakSet<Api.Span>;
}

// NOTE: OpenTelemetry's tracer provider, context manager and the patches of `http` and `pg` are
// per process, so this is too (each API worker of a cluster starts its own).
let active: Active | undefined;

/**
 * Runs one GraphQL operation (src/http/server.ts) inside its own span, which is current for
 * everything the operation does: parsing, validation, the transaction, each statement. A child of
 * the HTTP request's span, whose trace continues the caller's when it sent a traceparent header.
 */
export function traceOperation<T>(run: () => Promise<T>): Promise<T> {
  if (!active) return run();
  const { api, tracer, operations } = active;
  return tracer.startActiveSpan('GraphQL operation', async (span) => {
    operations.add(span);
    try {
      return await run();
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: api.SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * Starts the span of an operation's transaction (from waiting for a connection to COMMIT), inside
 * a traced request only: a subscription's event delivery would otherwise start a trace of its own.
 */
export function traceTransaction(readOnly: boolean): TransactionSpan | undefined {
  if (!active?.api.trace.getActiveSpan()) return undefined;
  const span = active.tracer.startSpan('transaction', {
    attributes: { 'tenantql.transaction.read_only': readOnly },
  });
  return {
    end(stats) {
      if (stats.tenantId) span.setAttribute('tenantql.tenant.id', stats.tenantId);
      span.setAttribute('tenantql.transaction.outcome', stats.outcome);
      span.setAttribute('tenantql.transaction.statements', stats.queries);
      span.end();
    },
  };
}

/**
 * pino's mixin (createLogger with traceIds): the current span's ids on every log line written inside an
 * operation, named as @opentelemetry/instrumentation-pino names them.
 */
export function traceLogFields(): Record<string, string> {
  const span = active?.api.trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId, traceFlags } = span.spanContext();
  return {
    trace_id: traceId,
    span_id: spanId,
    trace_flags: `0${traceFlags.toString(16)}`,
  };
}

/** A started SDK: its Apollo plugin, and a shutdown that exports the spans still buffered. */
export interface Tracing {
  plugin: ApolloServerPlugin<GraphQLContext>;
  shutdown(): Promise<void>;
}

/** Paths whose requests are not traced: probes and scrapes arrive every few seconds. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Loads the OpenTelemetry SDK and exports spans over OTLP/HTTP (protobuf) to config.endpoint.
 *
 * NOTE: `http` and `pg` are patched by their official instrumentations, which hook require():
 * both are CommonJS, shared by every importer, and patched on their prototypes (Server, Client,
 * Pool), so requiring them once more here patches what the ESM modules imported long before.
 * That is why no loader hook (--import) is needed, in dist/ as under tsx or vitest. graphql and
 * pino cannot be patched that way (Apollo holds graphql's functions as ESM bindings; our logger
 * exists already), so parsing and validation spans come from an Apollo plugin and log lines get
 * trace ids from a pino mixin (createLogger with traceIds).
 */
export async function startTracing(config: TracingConfig, log: Logger): Promise<Tracing> {
  const [api, sdk, otlp, resources, instrumentation, httpInstrumentation, pgInstrumentation] =
    await Promise.all([
      import('@opentelemetry/api'),
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/exporter-trace-otlp-proto'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/instrumentation'),
      import('@opentelemetry/instrumentation-http'),
      import('@opentelemetry/instrumentation-pg'),
    ]);
  // Export failures (an unreachable collector) would otherwise go nowhere.
  api.diag.setLogger(
    {
      error: (message, ...args) => log.warn({ args }, `tracing: ${message}`),
      warn: (message, ...args) => log.warn({ args }, `tracing: ${message}`),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    api.DiagLogLevel.WARN,
  );
  // OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, read by envDetector, win over the defaults.
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ 'service.name': config.serviceName }))
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  // Headers, compression and timeout come from the standard OTEL_EXPORTER_OTLP_* variables, and
  // the sampler from OTEL_TRACES_SAMPLER, which the SDK reads itself.
  const provider = new sdk.NodeTracerProvider({
    resource,
    spanProcessors: [
      new sdk.BatchSpanProcessor(new otlp.OTLPTraceExporter({ url: config.endpoint })),
    ],
  });
  provider.register();
  const instrumentations = [
    new httpInstrumentation.HttpInstrumentation({
      ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.has(req.url?.split('?')[0] ?? ''),
      // `POST /graphql` rather than a bare `POST`: the route is what the span is named after.
      applyCustomAttributesOnSpan: (span, request) => {
        if (!('url' in request) || request.url?.split('?')[0] !== '/graphql') return;
        span.setAttribute('http.route', '/graphql');
        span.updateName(`${request.method ?? 'GET'} /graphql`);
      },
      // Outgoing requests (webhooks, the exporter's own) are not part of any operation.
      disableOutgoingRequestInstrumentation: true,
    }),
    new pgInstrumentation.PgInstrumentation({
      // Only statements of a traced request; values stay out (enhancedDatabaseReporting off).
      requireParentSpan: true,
      // Named after the command, not after the name of its prepared statement (tq_<hash>).
      requestHook: (span, { query, connection }) => {
        const command = /^\s*(?:\/\*.*?\*\/\s*)*(\w+)/s.exec(query.text)?.[1]?.toUpperCase();
        span.updateName(`pg.query:${command ?? 'unknown'} ${connection.database ?? ''}`.trim());
      },
    }),
  ];
  const unregister = instrumentation.registerInstrumentations({
    tracerProvider: provider,
    instrumentations,
  });
  const require = createRequire(import.meta.url);
  for (const name of ['http', 'pg', 'pg-pool']) require(name);

  const tracer = provider.getTracer('tenantql');
  const current: Active = { api, tracer, operations: new WeakSet() };
  active = current;
  log.info({ endpoint: config.endpoint }, 'tracing: exporting spans over OTLP');
  return {
    plugin: tracingPlugin(current),
    async shutdown() {
      if (active === current) active = undefined;
      unregister();
      await provider.shutdown();
      api.trace.disable();
      api.context.disable();
      api.propagation.disable();
      api.diag.disable();
    },
  };
}

/**
 * Names the operation's span after the operation (`query ProjectPage`, as OpenTelemetry's GraphQL
 * conventions name server spans), adds who called for which tenant, and times parsing and
 * validation. The document and its variables are never recorded: they carry passwords.
 */
function tracingPlugin({ api, tracer, operations }: Active): ApolloServerPlugin<GraphQLContext> {
  const step = (name: string) => {
    const span = tracer.startSpan(name);
    return (error?: unknown) => {
      if (error) span.setStatus({ code: api.SpanStatusCode.ERROR });
      span.end();
      return Promise.resolve();
    };
  };
  return {
    requestDidStart() {
      const span = api.trace.getActiveSpan();
      if (!span || !operations.has(span)) return Promise.resolve({});
      return Promise.resolve({
        parsingDidStart: () => Promise.resolve(step('graphql.parse')),
        validationDidStart: () => {
          const end = step('graphql.validate');
          return Promise.resolve((errors?: readonly Error[]) => end(errors?.[0]));
        },
        didResolveOperation({ operation, operationName }) {
          const type = operation?.operation ?? 'operation';
          span.updateName(operationName ? `${type} ${operationName}` : type);
          span.setAttribute('graphql.operation.type', type);
          if (operationName) span.setAttribute('graphql.operation.name', operationName);
          return Promise.resolve();
        },
        willSendResponse({ contextValue, response }) {
          const { db, session, apiKey } = contextValue;
          if (db.stats.tenantId) span.setAttribute('tenantql.tenant.id', db.stats.tenantId);
          if (session) span.setAttribute('user.id', session.userId);
          if (apiKey) span.setAttribute('tenantql.api_key', apiKey.prefix);
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : [];
          if (errors?.length) {
            span.setStatus({ code: api.SpanStatusCode.ERROR });
            span.setAttribute(
              'graphql.error.codes',
              errors.map((e) =>
                typeof e.extensions?.code === 'string' ? e.extensions.code : 'UNKNOWN',
              ),
            );
          }
          return Promise.resolve();
        },
      });
    },
  };
}
