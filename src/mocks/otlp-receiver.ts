import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { listen, type RunningServer } from '../shared/http-server';

/**
 * A local OTLP/HTTP trace receiver, standing in for Jaeger or a collector in tests and the bench:
 * it accepts POST /v1/traces as http/json (decoding the spans) or http/protobuf (keeping the raw
 * bodies: decoding them needs the OTLP protos, which no public package API offers), and answers
 * 200 as a collector does. `keep: false` counts without keeping anything (a bench sink).
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
  /** Decoded spans (http/json). */
  spans: ReceivedSpan[];
  /** Raw http/protobuf request bodies, unzipped. */
  protobufBodies: Buffer[];
  stats: { requests: number; jsonRequests: number; protobufRequests: number; spans: number; bytes: number };
}

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type KeyValue = { key: string; value: AnyValue };

const valueOf = (v: AnyValue): string | number | boolean =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.boolValue ?? v.doubleValue ?? '');
const attributesOf = (list: KeyValue[] = []) => Object.fromEntries(list.map((kv) => [kv.key, valueOf(kv.value)]));

/** OTLP/JSON writes ids as hex; some encoders write base64: both are read as hex. */
const hexId = (id: string | undefined) => (!id ? '' : /^[\da-f]+$/i.test(id) ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex'));

export async function startOtlpReceiver(port = 0, options: { keep?: boolean } = {}): Promise<OtlpReceiver> {
  const keep = options.keep ?? true;
  const spans: ReceivedSpan[] = [];
  const protobufBodies: Buffer[] = [];
  const stats = { requests: 0, jsonRequests: 0, protobufRequests: 0, spans: 0, bytes: 0 };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.startsWith('/v1/traces')) {
        res.writeHead(404).end();
        return;
      }
      stats.requests += 1;
      let body = Buffer.concat(chunks);
      stats.bytes += body.length;
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const type = String(req.headers['content-type'] ?? '');
      if (type.startsWith('application/x-protobuf')) {
        stats.protobufRequests += 1;
        if (keep) protobufBodies.push(body);
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
        return;
      }
      stats.jsonRequests += 1;
      try {
        const request = JSON.parse(body.toString('utf8')) as {
          resourceSpans?: Array<{ resource?: { attributes?: KeyValue[] }; scopeSpans?: Array<{ spans?: Array<Record<string, unknown>> }> }>;
        };
        for (const rs of request.resourceSpans ?? []) {
          const resource = attributesOf(rs.resource?.attributes);
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              stats.spans += 1;
              if (!keep) continue;
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
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"message":"not OTLP/JSON"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  };

  const server = await listen(handle, port);
  return Object.assign(server, { spans, protobufBodies, stats });
}
