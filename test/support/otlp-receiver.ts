import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export type AttributeValue = string | number | boolean | AttributeValue[] | undefined;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** SpanKind as OTLP numbers it: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, AttributeValue>;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
  scope: string;
  resource: Record<string, AttributeValue>;
}

export interface OtlpReceiver {
  /** The collector's base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it. */
  url: string;
  spans: ReceivedSpan[];
  /** Content types of the export requests received. */
  contentTypes: string[];
  close(): Promise<void>;
}

type Field = { field: number; wire: number; varint: bigint; bytes: Buffer };

/** The fields of one protobuf message, in order (the wire format, no schema needed). */
function fields(buffer: Buffer): Field[] {
  const out: Field[] = [];
  let offset = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buffer[offset++];
      if (byte === undefined) throw new Error('truncated protobuf varint');
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return result;
      shift += 7n;
    }
  };
  while (offset < buffer.length) {
    const key = Number(varint());
    const wire = key & 7;
    const field = key >> 3;
    const entry: Field = { field, wire, varint: 0n, bytes: Buffer.alloc(0) };
    if (wire === 0) entry.varint = varint();
    else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      entry.bytes = buffer.subarray(offset, offset + size);
      offset += size;
    } else if (wire === 2) {
      const length = Number(varint());
      entry.bytes = buffer.subarray(offset, offset + length);
      offset += length;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    out.push(entry);
  }
  return out;
}

const all = (message: Field[], field: number) => message.filter((f) => f.field === field);
const first = (message: Field[], field: number) => message.find((f) => f.field === field);

/** opentelemetry.proto.common.v1.AnyValue */
function anyValue(message: Field[]): AttributeValue {
  const [value] = message;
  if (!value) return undefined;
  switch (value.field) {
    case 1:
      return value.bytes.toString('utf8');
    case 2:
      return value.varint !== 0n;
    case 3:
      return Number(BigInt.asIntN(64, value.varint));
    case 4:
      return value.bytes.readDoubleLE(0);
    case 5:
      return all(fields(value.bytes), 1).map((item) => anyValue(fields(item.bytes)));
    default:
      return undefined;
  }
}

/** repeated opentelemetry.proto.common.v1.KeyValue */
function attributes(entries: Field[]): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const entry of entries) {
    const keyValue = fields(entry.bytes);
    const key = first(keyValue, 1)?.bytes.toString('utf8') ?? '';
    out[key] = anyValue(fields(first(keyValue, 2)?.bytes ?? Buffer.alloc(0)));
  }
  return out;
}

/** opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest, as the spans it carries. */
export function decodeTraceExport(body: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of all(fields(body), 1)) {
    const rs = fields(resourceSpans.bytes);
    const resource = attributes(all(fields(first(rs, 1)?.bytes ?? Buffer.alloc(0)), 1));
    for (const scopeSpans of all(rs, 2)) {
      const ss = fields(scopeSpans.bytes);
      const scope = first(fields(first(ss, 1)?.bytes ?? Buffer.alloc(0)), 1);
      for (const spanField of all(ss, 2)) {
        const span = fields(spanField.bytes);
        const hex = (n: number) => first(span, n)?.bytes.toString('hex') ?? '';
        const status = fields(first(span, 15)?.bytes ?? Buffer.alloc(0));
        spans.push({
          traceId: hex(1),
          spanId: hex(2),
          parentSpanId: hex(4),
          name: first(span, 5)?.bytes.toString('utf8') ?? '',
          kind: Number(first(span, 6)?.varint ?? 0n),
          attributes: attributes(all(span, 9)),
          statusCode: Number(first(status, 3)?.varint ?? 0n),
          scope: scope?.bytes.toString('utf8') ?? '',
          resource,
        });
      }
    }
  }
  return spans;
}

/**
 * A collector's OTLP/HTTP traces endpoint (POST /v1/traces, protobuf) that keeps what it
 * receives, decoded. It answers as a collector does: 200 with an empty ExportTraceServiceResponse.
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const contentTypes: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      contentTypes.push(req.headers['content-type'] ?? '');
      spans.push(...decodeTraceExport(body));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    contentTypes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
