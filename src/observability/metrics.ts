import { isMainThread } from 'node:worker_threads';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The service's Prometheus metrics. Labels stay low-cardinality: statuses, reasons, outcomes,
 * queue names, route templates; never an order id or a SKU.
 */
export const registry = new Registry();
// The process's CPU, memory and event loop come from the main thread; the job thread's registry
// carries only its own counters, which /metrics adds to these.
// The event loop's delay is sampled every 100 ms, not prom-client's default 10 ms: those 100
// wake-ups a second were most of an idle service's CPU.
if (isMainThread) collectDefaultMetrics({ register: registry, prefix: 'orderloop_', eventLoopMonitoringPrecision: 100 });

export const metrics = Object.freeze({
  ordersCreated: new Counter({
    name: 'orderloop_orders_created_total',
    help: 'Orders accepted by POST /orders/create',
    registers: [registry],
  }),
  ordersFinished: new Counter({
    name: 'orderloop_orders_finished_total',
    help: 'Orders that reached a terminal state, by status and failure reason',
    labelNames: ['status', 'reason'] as const,
    registers: [registry],
  }),
  orderDuration: new Histogram({
    name: 'orderloop_order_duration_seconds',
    help: 'Time from order creation to its terminal state',
    labelNames: ['status'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
    registers: [registry],
  }),
  paymentAttempts: new Counter({
    name: 'orderloop_payment_attempts_total',
    help: 'Charge attempts by outcome (succeeded, failed, declined)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  }),
  paymentCircuitState: new Gauge({
    name: 'orderloop_payment_circuit_state',
    help: 'The payment provider circuit breaker: 1 for the state it is in (closed, open, half_open), 0 for the others; one per worker process',
    labelNames: ['state'] as const,
    registers: [registry],
  }),
  paymentCircuitChanges: new Counter({
    name: 'orderloop_payment_circuit_changes_total',
    help: 'Times the payment provider circuit breaker changed state, by the state it moved to',
    labelNames: ['state'] as const,
    registers: [registry],
  }),
  providerCallsDeferred: new Counter({
    name: 'orderloop_payment_calls_deferred_total',
    help: 'Charge and refund jobs put off because the circuit breaker was open (no provider call made, no attempt spent)',
    labelNames: ['call'] as const,
    registers: [registry],
  }),
  refunds: new Counter({
    name: 'orderloop_refunds_total',
    help: 'Refunds by reason (late_charge, requested) and outcome (requested, succeeded, failed)',
    labelNames: ['reason', 'outcome'] as const,
    registers: [registry],
  }),
  lowStockEvents: new Counter({
    name: 'orderloop_low_stock_events_total',
    help: 'Times a product fell to or below its low-stock threshold',
    registers: [registry],
  }),
});

/** Records an order reaching a terminal state. */
export function recordOrderFinished(status: 'completed' | 'failed' | 'cancelled', reason: string | null, createdAt?: Date | string | null): void {
  metrics.ordersFinished.inc({ status, reason: reason ?? 'none' });
  if (createdAt) metrics.orderDuration.observe({ status }, Math.max(0, (Date.now() - new Date(createdAt).getTime()) / 1000));
}

// ---------------------------------------------------------------------------------------------
// HTTP and inventory sync (issue 9). The per-queue job gauge lives in ./service-metrics.ts: it
// reads pg-boss's table on scrape, so it belongs to one service's database connection.

export const httpRequestDuration = new Histogram({
  name: 'orderloop_http_request_duration_seconds',
  help: 'HTTP request duration by route template (never a raw URL), method and status code',
  labelNames: ['route', 'method', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const inventoryMetrics = Object.freeze({
  syncRuns: new Counter({
    name: 'orderloop_inventory_sync_runs_total',
    help: 'Inventory sync runs by final status (succeeded, failed, skipped) and trigger (cron, manual)',
    labelNames: ['status', 'trigger'] as const,
    registers: [registry],
  }),
  syncDuration: new Histogram({
    name: 'orderloop_inventory_sync_duration_seconds',
    help: 'Duration of inventory sync runs by final status',
    labelNames: ['status'] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  }),
  shortfalls: new Counter({
    name: 'orderloop_inventory_shortfalls_total',
    help: 'SKUs a sync run found short (the warehouse reported fewer units than are reserved)',
    registers: [registry],
  }),
});

/** Records the end of one inventory sync run (one line in the sync code). */
export function recordInventorySync(status: 'succeeded' | 'failed' | 'skipped', trigger: string, shortfalls: number, startedAtMs?: number): void {
  inventoryMetrics.syncRuns.inc({ status, trigger });
  if (shortfalls > 0) inventoryMetrics.shortfalls.inc(shortfalls);
  if (startedAtMs !== undefined && status !== 'skipped') {
    inventoryMetrics.syncDuration.observe({ status }, Math.max(0, (Date.now() - startedAtMs) / 1000));
  }
}
