import type { IncomingMessage } from 'node:http';
import type { AppConfig } from '../config';

export interface Tracing {
  /** Exports the spans still buffered, then stops (at shutdown, after the service has stopped). */
  shutdown(): Promise<void>;
}

/** Probes and scrapes: asked every few seconds, they would drown the orders' traces. */
const UNTRACED_PATHS = /^\/(health|ready|metrics)(\/|\?|$)/;

/**
 * Starts OpenTelemetry for this process (or job thread), before anything it instruments is
 * loaded: call it first, then load the service. The SDK reads the standard variables itself
 * (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SERVICE_NAME,
 * OTEL_TRACES_SAMPLER, OTEL_RESOURCE_ATTRIBUTES...). Only traces: metrics stay on /metrics.
 *
 * Off (config.tracing.enabled false: no endpoint), nothing of the SDK is even loaded, and the
 * API calls in traces.ts are its no-ops.
 */
export function startTracing(config: Pick<AppConfig, 'tracing' | 'role' | 'port'>, where: { thread?: string } = {}): Tracing {
  if (!config.tracing.enabled) return { shutdown: async () => undefined };
  // Required, not imported: with tracing off none of the SDK is loaded.
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { defaultResource, resourceFromAttributes } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { ExpressInstrumentation, ExpressLayerType } = require('@opentelemetry/instrumentation-express') as typeof import('@opentelemetry/instrumentation-express');
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  const { UndiciInstrumentation } = require('@opentelemetry/instrumentation-undici') as typeof import('@opentelemetry/instrumentation-undici');

  const sdk = new NodeSDK({
    // OTEL_SERVICE_NAME (read by the SDK's env detector) still wins over this default.
    resource: defaultResource().merge(resourceFromAttributes({
      'service.name': 'orderloop',
      'orderloop.role': config.role,
      ...(where.thread ? { 'orderloop.thread': where.thread } : {}),
    })),
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        // Only the API's own port: in development the mock provider and warehouse serve from this
        // process too, and their side of a call is the provider's business, not ours.
        ignoreIncomingRequestHook: (request: IncomingMessage) => request.socket.localPort !== config.port || UNTRACED_PATHS.test(request.url ?? ''),
        // A call made outside any order's work (a cron tick's) would be a trace of its own.
        requireParentforOutgoingSpans: true,
      }),
      // No span per layer (they cost more than they tell): Express still names the request's span by its route.
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE, ExpressLayerType.ROUTER, ExpressLayerType.REQUEST_HANDLER] }),
      // The queue's polling runs outside any span: only statements made for a request or a job are spans.
      new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true }),
      new UndiciInstrumentation({ requireParentforSpans: true }),
    ],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}
