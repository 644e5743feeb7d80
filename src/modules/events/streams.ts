import type { Request, Response } from 'express';
import { createSession, type Session } from 'better-sse';
import type { AppContext } from '../../context';
import { FINAL_ORDER_EVENTS } from './catalog';
import { eventsByIds, orderEventsAfter, type StoredEvent } from './data/events-to-stream';
import type { EventNotice } from './hub';
import { eventPayload } from './outbox';

/** What a stream of one order starts from: its state now and the number of its last event. */
export interface OrderSnapshot {
  order: Record<string, unknown>;
  sequence: number;
  /** Its flow is over: no event follows (a stream that has sent everything ends). */
  final: boolean;
}

/** The browser's reconnection delay the streams suggest. */
const RETRY_MS = 2_000;
/** Notices for the admin stream arriving within this share one read. */
const GATHER_MS = 25;

function sessionFor(ctx: AppContext, req: Request, res: Response): Promise<Session> {
  // Proxies (nginx) would otherwise hold the events back in their buffers.
  return createSession(req, res, { keepAlive: ctx.config.events.heartbeatSeconds * 1000, retry: RETRY_MS, headers: { 'X-Accel-Buffering': 'no' } });
}

/**
 * GET /orders/:id/events: the order's state now (`snapshot`), then each of its events as it
 * commits, whichever process made the change (the events' NOTIFY reaches this process's hub),
 * ending after the event that ends its flow. With Last-Event-ID (the last sequence it got) a
 * client resumes: the events it missed are read from the outbox, so nothing is skipped. Events
 * are always read from the table in sequence order; a notice only says when to look.
 */
export async function streamOrderEvents(ctx: AppContext, req: Request, res: Response, orderId: string, snapshot: () => Promise<OrderSnapshot>): Promise<void> {
  let session: Session | null = null;
  let sent = 0;
  let ended = false;
  let pumping: Promise<void> = Promise.resolve();
  const pump = () => {
    pumping = pumping.then(async () => {
      if (ended || !session?.isConnected) return;
      const events = await orderEventsAfter.rows(ctx.sequelize, [orderId, sent]);
      for (const event of events) {
        session.push(eventPayload(event), event.type, String(event.sequence));
        sent = event.sequence!;
        if (FINAL_ORDER_EVENTS.has(event.type)) return end();
      }
    }).catch((error: unknown) => {
      ctx.logger.warn({ err: error, orderId }, 'order event stream could not read its events; closing it (the client resumes with Last-Event-ID)');
      end();
    });
  };
  // Listening first: an unreachable database is still a plain 503, and nothing that commits after the snapshot is missed.
  const unsubscribe = await ctx.eventHub.subscribe({
    onEvent: (notice: EventNotice) => {
      if (notice.orderId === orderId && (notice.sequence ?? 0) > sent) pump();
    },
    onGap: pump,
  });
  const end = () => {
    if (ended) return;
    ended = true;
    unsubscribe();
    if (!res.writableEnded) res.end();
  };
  let now: OrderSnapshot;
  try {
    now = await snapshot();
  } catch (error) {
    unsubscribe();
    throw error;
  }
  const resumeFrom = Number.parseInt(String(req.get('Last-Event-ID') ?? ''), 10);
  const resuming = Number.isSafeInteger(resumeFrom) && resumeFrom >= 0;
  sent = resuming ? Math.min(resumeFrom, now.sequence) : now.sequence;

  session = await sessionFor(ctx, req, res);
  session.once('disconnected', end);
  if (!resuming) session.push(now, 'snapshot', String(now.sequence));
  if (now.final && sent >= now.sequence) return end();
  // What committed between the subscription and now, or what a resuming client missed.
  pump();
}

/**
 * GET /events (admin): every event as it commits, from now on; the dashboard's live feed. Its ids
 * are the events' ids: it does not resume (the orders list is read afresh on reconnect).
 */
export async function streamAllEvents(ctx: AppContext, req: Request, res: Response): Promise<void> {
  let session: Session | null = null;
  let pending: string[] = [];
  let timer: NodeJS.Timeout | null = null;
  let reading: Promise<void> = Promise.resolve();
  const flush = () => {
    timer = null;
    const ids = pending;
    pending = [];
    reading = reading.then(async () => {
      if (!session?.isConnected) return;
      const events: StoredEvent[] = await eventsByIds.rows(ctx.sequelize, [ids]);
      for (const event of events) session.push(eventPayload(event), event.type, event.id);
    }).catch((error: unknown) => ctx.logger.warn({ err: error }, 'event stream could not read events'));
  };
  // Listening first: an unreachable database is still a plain 503 rather than a stream that hears nothing.
  const unsubscribe = await ctx.eventHub.subscribe({
    onEvent: (notice) => {
      pending.push(notice.id);
      timer ??= setTimeout(flush, GATHER_MS);
    },
    // Notices were lost: say so, and the client reads its lists afresh.
    onGap: () => session?.push({ reason: 'the event stream reconnected; some events may have been missed' }, 'gap'),
  });
  session = await sessionFor(ctx, req, res);
  session.once('disconnected', () => {
    unsubscribe();
    if (timer) clearTimeout(timer);
  });
  if (!session.isConnected) unsubscribe();
}
