import pg from 'pg';
import type { Logger } from '../../shared/logger';
import { EVENTS_CHANNEL } from './catalog';
import { listenForEvents } from './data/listen-events';

/** What the "Events" trigger NOTIFYs for each event as its transaction commits. */
export interface EventNotice {
  id: string;
  type: string;
  orderId: string | null;
  customerId: string | null;
  sequence: number | null;
}

export interface EventListener {
  onEvent(notice: EventNotice): void;
  /** The connection was lost and is back: notices may have been missed meanwhile; read what changed from the table. */
  onGap(): void;
}

const RECONNECT_MAX_MS = 5_000;

/**
 * One LISTEN connection per process, shared by every live stream (and the webhook relay) in it:
 * PostgreSQL delivers each committed event's notice to it whichever process made the change. It
 * connects when the first listener subscribes and closes when the last one leaves, so a process
 * nobody streams from holds no extra connection. A dedicated pg.Client, never a pooled one: LISTEN
 * belongs to a session (behind a transaction-mode PgBouncer it must bypass the bouncer; README).
 */
export class EventHub {
  private readonly listeners = new Set<EventListener>();
  private client: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private retryMs = 250;
  private retryTimer: NodeJS.Timeout | null = null;
  private lostSinceLastConnect = false;
  private stopped = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly logger: Logger,
  ) {}

  /** Starts hearing events; resolves once the connection listens (so nothing committed after is missed). */
  async subscribe(listener: EventListener): Promise<() => void> {
    this.listeners.add(listener);
    try {
      await this.connect();
    } catch (error) {
      this.listeners.delete(listener);
      throw error;
    }
    return () => {
      this.listeners.delete(listener);
      if (!this.listeners.size) void this.disconnect();
    };
  }

  get listening(): boolean {
    return this.client !== null;
  }

  private connect(): Promise<void> {
    if (this.client || this.stopped) return Promise.resolve();
    this.connecting ??= this.open().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async open(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'orderloop-events' });
    client.on('notification', (message) => {
      if (message.channel !== EVENTS_CHANNEL || !message.payload) return;
      let notice: EventNotice;
      try {
        notice = JSON.parse(message.payload) as EventNotice;
      } catch {
        return;
      }
      for (const listener of this.listeners) listener.onEvent(notice);
    });
    client.on('error', (error: Error) => {
      this.logger.warn({ err: error }, 'event stream connection lost; reconnecting');
      this.lost(client);
    });
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await listenForEvents(client);
    } catch (error) {
      client.end().catch(() => undefined);
      this.logger.warn({ err: error }, 'could not listen for events; retrying');
      this.lostSinceLastConnect = true;
      this.scheduleReconnect();
      throw error;
    }
    this.client = client;
    this.retryMs = 250;
    if (this.lostSinceLastConnect) {
      this.lostSinceLastConnect = false;
      for (const listener of this.listeners) listener.onGap();
    }
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = null;
    client.removeAllListeners('notification');
    client.end().catch(() => undefined);
    if (this.stopped || !this.listeners.size) return;
    this.lostSinceLastConnect = true;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.retryTimer || this.stopped || !this.listeners.size) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect().catch(() => undefined);
    }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RECONNECT_MAX_MS);
  }

  private async disconnect(): Promise<void> {
    await this.connecting?.catch(() => undefined);
    if (this.listeners.size) return;
    const client = this.client;
    this.client = null;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await client?.end().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.listeners.clear();
    await this.disconnect();
  }
}
