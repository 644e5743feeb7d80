import { ROOT_CONTEXT, SpanStatusCode, context, isSpanContextValid, propagation, trace, type Attributes, type Context, type Link, type Span } from '@opentelemetry/api';

/**
 * Spans of the order flow, through OpenTelemetry's API only: while tracing is off (no SDK
 * started, see tracing.ts) every call here is the API's no-op and no trace context is made.
 *
 * An order's trace travels as a W3C `traceparent`: stored on its row ("Orders".traceparent) and
 * carried in each of its jobs' payloads, so every step is a span of the trace its POST began,
 * whichever process runs it.
 */
const tracer = trace.getTracer('orderloop');

/** The active span's W3C traceparent, for a job payload or an order's row; undefined while tracing is off. */
export function currentTraceparent(from: Context = context.active()): string | undefined {
  const carrier: { traceparent?: string } = {};
  propagation.inject(from, carrier);
  return carrier.traceparent;
}

/** The trace id a traceparent names (what an operator looks up in Jaeger), or null. */
export function traceIdOf(traceparent: string | null | undefined): string | null {
  return /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/.exec(traceparent ?? '')?.[1] ?? null;
}

/** The context to start a span under: a stored traceparent's, or a new trace's when there is none. */
export function contextOf(traceparent: string | null | undefined): Context {
  return traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
}

/** A link to another trace's span (a batch span to each order's trace, say). */
export function linkTo(traceparent: string | null | undefined): Link[] {
  const span = traceparent ? trace.getSpanContext(contextOf(traceparent)) : undefined;
  return span ? [{ context: span }] : [];
}

export interface SpanOptions {
  /** A traceparent or context to start under; the active context when left out. */
  parent?: string | null | Context;
  attributes?: Attributes;
  links?: Link[];
}

const parentContext = (parent: SpanOptions['parent']): Context =>
  parent === undefined ? context.active() : typeof parent === 'string' || parent === null ? contextOf(parent) : parent;

/** Marks a span failed with the error (its type and message; the stack stays in the logs). */
export function recordError(span: Span, error: unknown): void {
  const e = error instanceof Error ? error : new Error(String(error));
  span.recordException(e);
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
}

/** Runs `fn` as the active span `name`; a throw is recorded on the span and passed on. */
export function inSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes: options.attributes, links: options.links }, parentContext(options.parent), async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      recordError(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** A span the caller ends (one per order of a batch handled in one transaction). */
export function openSpan(name: string, options: SpanOptions): Span {
  return tracer.startSpan(name, { attributes: options.attributes, links: options.links }, parentContext(options.parent));
}

/** Runs `fn` with `span` active: its log lines carry that span's trace id. */
export function withSpan<T>(span: Span, fn: () => T): T {
  return context.with(trace.setSpan(context.active(), span), fn);
}

/** Adds what the step found out (an outcome, an attempt number) to the active span. */
export function annotate(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

/** The active span's ids for a log line, or nothing (the logger's mixin). */
export function activeTraceIds(): { traceId: string; spanId: string } | undefined {
  const span = trace.getActiveSpan()?.spanContext();
  return span && isSpanContextValid(span) ? { traceId: span.traceId, spanId: span.spanId } : undefined;
}

/** A span's W3C traceparent, for the payload of a job that continues its work. */
export function traceparentOf(span: Span): string | undefined {
  return currentTraceparent(trace.setSpan(ROOT_CONTEXT, span));
}
