import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { listen, type RunningServer } from '../shared/http-server';

/**
 * A local OTLP/HTTP trace receiver, standing in for Jaeger or a collector in tests and the bench:
 * it accepts POST /v1/traces as http/json or http/protobuf, decodes the spans either way, and
 * answers 200 as a collector does.
 */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Empty for a trace's root span. */
  parentSpanId: string;
  name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  /** OTLP's status code: 0 unset, 1 ok, 2 error. */
  status: { code: number; message?: string };
  /** Resource attributes of the process that made it (service.name, orderloop.role...). */
  resource: Record<string, string | number | boolean>;
  startNs: bigint;
  endNs: bigint;
  links: Array<{ traceId: string; spanId: string }>;
  events: string[];
}

export interface OtlpReceiver extends RunningServer {
  /** Decoded spans, in the order received (with decodeLater, only after takeSpans()). */
  spans: ReceivedSpan[];
  /** Decodes what is held, then hands over and forgets every span received so far. */
  takeSpans(): ReceivedSpan[];
  /** `spans` counts only what has been decoded. */
  stats: { requests: number; jsonRequests: number; protobufRequests: number; spans: number; bytes: number };
}

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type KeyValue = { key: string; value: AnyValue };
type ExportRequest = {
  resourceSpans?: Array<{ resource?: { attributes?: KeyValue[] }; scopeSpans?: Array<{ spans?: Array<Record<string, unknown>> }> }>;
};

/**
 * The part of OTLP's trace.proto (opentelemetry-proto, v1) a receiver reads, field numbers as
 * there. Decoded to objects shaped like OTLP/JSON (ids as hex, 64-bit numbers as strings), so
 * both encodings go through one reader below.
 */
const ExportTraceServiceRequest = protobuf.Root.fromJSON({
  nested: {
    ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
    ResourceSpans: { fields: { resource: { type: 'Resource', id: 1 }, scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 } } },
    Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
    ScopeSpans: { fields: { spans: { rule: 'repeated', type: 'Span', id: 2 } } },
    Span: {
      fields: {
        traceId: { type: 'bytes', id: 1 },
        spanId: { type: 'bytes', id: 2 },
        parentSpanId: { type: 'bytes', id: 4 },
        name: { type: 'string', id: 5 },
        kind: { type: 'int32', id: 6 },
        startTimeUnixNano: { type: 'fixed64', id: 7 },
        endTimeUnixNano: { type: 'fixed64', id: 8 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 9 },
        events: { rule: 'repeated', type: 'Event', id: 11 },
        links: { rule: 'repeated', type: 'Link', id: 13 },
        status: { type: 'Status', id: 15 },
      },
    },
    Event: { fields: { name: { type: 'string', id: 2 } } },
    Link: { fields: { traceId: { type: 'bytes', id: 1 }, spanId: { type: 'bytes', id: 2 } } },
    Status: { fields: { message: { type: 'string', id: 2 }, code: { type: 'int32', id: 3 } } },
    KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
    AnyValue: {
      fields: {
        stringValue: { type: 'string', id: 1 },
        boolValue: { type: 'bool', id: 2 },
        intValue: { type: 'int64', id: 3 },
        doubleValue: { type: 'double', id: 4 },
      },
    },
  },
}).lookupType('ExportTraceServiceRequest');

const decodeProtobuf = (body: Buffer): ExportRequest =>
  ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(body), { bytes: String, longs: String }) as ExportRequest;

const valueOf = (v: AnyValue): string | number | boolean =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.boolValue ?? v.doubleValue ?? '');
const attributesOf = (list: KeyValue[] = []) => Object.fromEntries(list.map((kv) => [kv.key, valueOf(kv.value)]));

/** OTLP/JSON writes ids as hex, protobufjs (and some JSON encoders) as base64 (always padded): both are read as hex. */
const hexId = (id: string | undefined) => (!id ? '' : /^[\da-f]+$/i.test(id) ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex'));

/** Reads one export request's body (http/json or http/protobuf, gzip or not) into its spans; throws on anything else. */
function decodeExport(body: Buffer, headers: { contentType?: string; contentEncoding?: string }): ReceivedSpan[] {
  const raw = headers.contentEncoding === 'gzip' ? gunzipSync(body) : body;
  const request = isProtobuf(headers.contentType) ? decodeProtobuf(raw) : (JSON.parse(raw.toString('utf8')) as ExportRequest);
  const spans: ReceivedSpan[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const resource = attributesOf(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        spans.push({
          traceId: hexId(s.traceId as string),
          spanId: hexId(s.spanId as string),
          parentSpanId: hexId(s.parentSpanId as string | undefined),
          name: String(s.name),
          kind: Number(s.kind ?? 0),
          attributes: attributesOf(s.attributes as KeyValue[]),
          status: { code: Number((s.status as { code?: number } | undefined)?.code ?? 0), message: (s.status as { message?: string } | undefined)?.message },
          resource,
          startNs: BigInt(String(s.startTimeUnixNano ?? 0)),
          endNs: BigInt(String(s.endTimeUnixNano ?? 0)),
          links: ((s.links as Array<{ traceId: string; spanId: string }> | undefined) ?? []).map((l) => ({ traceId: hexId(l.traceId), spanId: hexId(l.spanId) })),
          events: ((s.events as Array<{ name: string }> | undefined) ?? []).map((e) => e.name),
        });
      }
    }
  }
  return spans;
}

const isProtobuf = (contentType: string | undefined) => String(contentType ?? '').startsWith('application/x-protobuf');

/**
 * `decodeLater: true` (the bench's sink) keeps each request's body undecoded until takeSpans():
 * decoding as exports arrive would spend, on the machine the service is measured on, CPU that a
 * collector on its own host spends elsewhere. Such a receiver accepts any POST to /v1/traces.
 */
export async function startOtlpReceiver(port = 0, options: { decodeLater?: boolean } = {}): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const held: Array<{ body: Buffer; contentType?: string; contentEncoding?: string }> = [];
  const stats = { requests: 0, jsonRequests: 0, protobufRequests: 0, spans: 0, bytes: 0 };
  const received = (decoded: ReceivedSpan[], protobufBody: boolean) => {
    stats[protobufBody ? 'protobufRequests' : 'jsonRequests'] += 1;
    stats.spans += decoded.length;
    spans.push(...decoded);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.startsWith('/v1/traces')) {
        res.writeHead(404).end();
        return;
      }
      stats.requests += 1;
      const body = Buffer.concat(chunks);
      stats.bytes += body.length;
      const headers = { contentType: req.headers['content-type'], contentEncoding: req.headers['content-encoding'] };
      const protobufBody = isProtobuf(headers.contentType);
      if (options.decodeLater) {
        held.push({ body, ...headers });
      } else {
        try {
          received(decodeExport(body, headers), protobufBody);
        } catch {
          res.writeHead(400, { 'content-type': 'application/json' }).end('{"message":"not an OTLP trace export"}');
          return;
        }
      }
      // An empty ExportTraceServiceResponse: all accepted.
      if (protobufBody) res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  };

  const server = await listen(handle, port);
  const takeSpans = () => {
    for (const { body, ...headers } of held.splice(0)) received(decodeExport(body, headers), isProtobuf(headers.contentType));
    return spans.splice(0);
  };
  return Object.assign(server, { spans, stats, takeSpans });
}
