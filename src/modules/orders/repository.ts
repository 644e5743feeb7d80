import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { OrderStatus } from './schemas';

/** Plain-object reads of orders; writes that change status live with the flow that owns them. */

export interface OrderRow {
  id: string;
  customer_id: string;
  status: OrderStatus;
  total_cents: string | number;
  currency: string;
  failure_reason: string | null;
  payment_attempts: number;
  payment_lease_until: Date | null;
  idempotency_key: string | null;
  request_hash: string | null;
  request_id: string | null;
  created_at: Date;
  updated_at: Date;
  cursor_ts?: string;
}

export interface OrderItemRow {
  order_id: string;
  product_id: number;
  sku: string;
  name: string;
  quantity: number;
  unit_price_cents: number;
}

export interface PaymentRow {
  attempt: number;
  outcome: string;
  provider_charge_id: string | null;
  error_code: string | null;
  error_message: string | null;
  amount_cents: string | number;
  currency: string;
  created_at: Date;
}

export interface OrderLogRow {
  id: string;
  event: string;
  from_status: string | null;
  to_status: string | null;
  attempt: number | null;
  message: string;
  details: Record<string, unknown> | null;
  job_id: string | null;
  request_id: string | null;
  created_at: Date;
}

/**
 * Named, not `*`: statements run as prepared statements (src/db/prepared-statements.ts), and a
 * prepared `SELECT *` fails once a migration adds a column to the table while the service runs.
 */
const ORDER_COLUMNS = `id, customer_id, status, total_cents, currency, failure_reason, payment_attempts,
  payment_lease_until, idempotency_key, request_hash, request_id, created_at, updated_at`;

export class OrderRepository {
  constructor(private readonly sequelize: Sequelize) {}

  async findById(id: string, transaction?: Transaction, forUpdate = false): Promise<OrderRow | null> {
    const rows = await this.sequelize.query<OrderRow>(
      `SELECT ${ORDER_COLUMNS} FROM "Orders" WHERE id = $1${forUpdate ? ' FOR NO KEY UPDATE' : ''}`,
      { bind: [id], transaction, type: QueryTypes.SELECT },
    );
    return rows[0] ?? null;
  }

  async findByIdempotencyKey(customerId: string, key: string, transaction?: Transaction): Promise<OrderRow | null> {
    const rows = await this.sequelize.query<OrderRow>(
      `SELECT ${ORDER_COLUMNS} FROM "Orders" WHERE customer_id = $1 AND idempotency_key = $2`,
      { bind: [customerId, key], transaction, type: QueryTypes.SELECT },
    );
    return rows[0] ?? null;
  }

  async items(orderId: string, transaction?: Transaction): Promise<OrderItemRow[]> {
    return this.sequelize.query<OrderItemRow>(
      `SELECT order_id, product_id, sku, name, quantity, unit_price_cents
       FROM "Order_Items" WHERE order_id = $1 ORDER BY id`,
      { bind: [orderId], transaction, type: QueryTypes.SELECT },
    );
  }

  async payments(orderId: string): Promise<PaymentRow[]> {
    return this.sequelize.query<PaymentRow>(
      `SELECT attempt, outcome, provider_charge_id, error_code, error_message, amount_cents, currency, created_at
       FROM "Payments" WHERE order_id = $1 ORDER BY attempt`,
      { bind: [orderId], type: QueryTypes.SELECT },
    );
  }

  async logs(orderId: string): Promise<OrderLogRow[]> {
    return this.sequelize.query<OrderLogRow>(
      `SELECT id, event, from_status, to_status, attempt, message, details, job_id, request_id, created_at
       FROM "Order_Logs" WHERE order_id = $1 ORDER BY id`,
      { bind: [orderId], type: QueryTypes.SELECT },
    );
  }

  /** Newest first; the cursor is the (created_at, id) of the last row of the previous page. */
  async list(filter: {
    customerId?: string;
    status?: OrderStatus;
    limit: number;
    after?: { createdAt: string; id: string };
  }): Promise<OrderRow[]> {
    const where: string[] = [];
    const bind: unknown[] = [];
    if (filter.customerId) where.push(`customer_id = $${bind.push(filter.customerId)}`);
    if (filter.status) where.push(`status = $${bind.push(filter.status)}`);
    if (filter.after) {
      where.push(`(created_at, id) < ($${bind.push(filter.after.createdAt)}::timestamptz, $${bind.push(filter.after.id)}::uuid)`);
    }
    bind.push(filter.limit + 1);
    return this.sequelize.query<OrderRow>(
      `SELECT ${ORDER_COLUMNS}, created_at::text AS cursor_ts FROM "Orders" ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at DESC, id DESC LIMIT $${bind.length}`,
      { bind, type: QueryTypes.SELECT },
    );
  }
}
