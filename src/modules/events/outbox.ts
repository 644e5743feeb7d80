import type { Sequelize, Transaction } from 'sequelize';
import { insertEvents } from './data/insert-events';
import type { EventType } from './catalog';

/** An event that is not an order's status change (those are written by the orders module's own statements). */
export interface NewEvent {
  type: Exclude<EventType, `order.${string}`>;
  data: Record<string, unknown>;
}

/**
 * Writes events into the outbox inside the caller's transaction: they exist, and are delivered,
 * if and only if that transaction commits.
 */
export async function publishEvents(sequelize: Sequelize, events: NewEvent[], transaction: Transaction, options: { dispatched?: boolean } = {}) {
  if (!events.length) return [];
  return insertEvents.rows(sequelize, [JSON.stringify(events), options.dispatched ?? false], transaction);
}

/** A stored event as receivers get it: the webhook body and each live-stream message's data. */
export interface EventPayload {
  id: string;
  type: string;
  createdAt: string;
  apiVersion: string;
  /** Order events only: the order's count of its events, to drop a stale one. */
  sequence?: number;
  data: Record<string, unknown>;
}

export function eventPayload(row: { id: string; type: string; createdAt: Date | string; apiVersion: string; sequence: number | null; data: Record<string, unknown> }): EventPayload {
  return {
    id: row.id,
    type: row.type,
    createdAt: new Date(row.createdAt).toISOString(),
    apiVersion: row.apiVersion,
    ...(row.sequence === null ? {} : { sequence: row.sequence }),
    data: row.data,
  };
}
