import type { AppContext } from '../../context';
import { QUEUES } from '../../queue/queues';
import { dispatchEvents } from './data/dispatch-events';
import type { EventHub } from './hub';

/** Events taken per relay transaction. */
const BATCH = 500;
/** Notices arriving within this are handled by one relay pass. */
const GATHER_MS = 250;

/**
 * The outbox's relay: turns committed events into webhook deliveries, one pg-boss job per
 * delivery, in the same transaction that marks the events dispatched (so a crash between the two
 * cannot lose or double a delivery). Woken by each event's NOTIFY; every relayIntervalSeconds it
 * also looks on its own, for events whose notice was missed while its connection was down.
 * Several worker processes may relay at once: each takes events the others do not hold.
 */
export class EventRelay {
  private timer: NodeJS.Timeout | null = null;
  private interval: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly ctx: AppContext,
    private readonly hub: EventHub,
  ) {}

  async start(): Promise<void> {
    await this.listen();
    this.interval = setInterval(() => {
      if (!this.unsubscribe) void this.listen();
      this.wake();
    }, this.ctx.config.webhooks.relayIntervalSeconds * 1000);
    this.wake();
  }

  private async listen(): Promise<void> {
    try {
      this.unsubscribe = await this.hub.subscribe({ onEvent: () => this.wake(), onGap: () => this.wake() });
    } catch (error) {
      this.ctx.logger.warn({ err: error }, 'webhook relay could not listen for events; it looks every EVENTS_RELAY_INTERVAL_S meanwhile');
    }
  }

  /** Asks for a pass soon; notices that come close together share it. */
  wake(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.running) {
        this.again = true;
        return;
      }
      this.running = this.drain().finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
    }, GATHER_MS);
  }

  private async drain(): Promise<void> {
    try {
      while (!this.stopped && (await this.relayOnce()) === BATCH);
    } catch (error) {
      this.ctx.logger.warn({ err: error }, 'webhook relay pass failed; the events wait for the next one');
    }
  }

  /** One transaction: up to BATCH events dispatched, their deliveries and jobs made. Returns how many events it took. */
  async relayOnce(): Promise<number> {
    const { sequelize, queue } = this.ctx;
    const made = await sequelize.transaction(async (transaction) => {
      const rows = await dispatchEvents.rows(sequelize, [BATCH], transaction);
      const deliveries = rows.filter((r) => r.deliveryId !== null).map((r) => ({ deliveryId: r.deliveryId!, traceparent: r.traceparent ?? undefined }));
      await queue.sendMany(QUEUES.WEBHOOK_DELIVER, deliveries, { transaction });
      return { events: rows[0]?.events ?? 0, deliveries: deliveries.length };
    });
    if (made.deliveries) queue.notify(QUEUES.WEBHOOK_DELIVER);
    return made.events;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.interval) clearInterval(this.interval);
    this.unsubscribe?.();
    await this.running;
  }
}
