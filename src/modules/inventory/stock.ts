import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';

/**
 * Stock steps used inside other modules' transactions: reserve and its undo (release),
 * and commit once payment succeeded. Products are always locked in ascending id order,
 * so concurrent orders touching the same products cannot deadlock.
 */

export interface StockLine {
  productId: number;
  sku: string;
  quantity: number;
}

export interface ReservedLine {
  productId: number;
  sku: string;
  quantity: number;
  availableBefore: number;
  availableAfter: number;
  lowStockThreshold: number;
}

export type ReserveResult =
  | { ok: true; lines: ReservedLine[] }
  | { ok: false; shortages: Array<{ sku: string; requested: number; available: number }> };

/**
 * One statement: lock the lines' products in ascending id order, check every line, and only when
 * all fit raise stock_reserved and insert the reservations. A product row is locked from this
 * statement until COMMIT, so callers run it as late in their transaction as they can: every
 * round trip after it is time other orders for the same product wait.
 *
 * The UPDATE reads the statement's snapshot, but PostgreSQL re-reads a row changed since then
 * (EvalPlanQual) before applying `stock_reserved + quantity`, and the rows are ours from `locked`
 * on, so the check and the update see the same numbers.
 */
const RESERVE_SQL = `
  WITH lines AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(product_id int, quantity int)
  ), locked AS MATERIALIZED (
    SELECT p.id, p.sku, p.stock_on_hand, p.stock_reserved, p.low_stock_threshold
    FROM "Products" p
    WHERE p.id IN (SELECT product_id FROM lines)
    ORDER BY p.id
    FOR NO KEY UPDATE
  ), checked AS MATERIALIZED (
    SELECT l.product_id, l.quantity, k.stock_on_hand - k.stock_reserved AS available, k.low_stock_threshold
    FROM lines l LEFT JOIN locked k ON k.id = l.product_id
  ), verdict AS (
    SELECT bool_and(available IS NOT NULL AND available >= quantity) AS ok FROM checked
  ), reserved AS (
    UPDATE "Products" p
    SET stock_reserved = p.stock_reserved + c.quantity, updated_at = now()
    FROM checked c, verdict v
    WHERE v.ok AND p.id = c.product_id AND p.stock_on_hand - p.stock_reserved >= c.quantity
    RETURNING p.id
  ), held AS (
    INSERT INTO "Stock_Reservations" (order_id, product_id, quantity, status, expires_at)
    SELECT $2::uuid, c.product_id, c.quantity, 'active', $3::timestamptz
    FROM checked c JOIN reserved r ON r.id = c.product_id
  )
  SELECT c.product_id, c.available, c.low_stock_threshold, v.ok, (SELECT count(*) FROM reserved)::int AS reserved_count
  FROM checked c, verdict v
  ORDER BY c.product_id`;

/** Reserves every line or none: all-or-nothing under row locks taken in id order. */
export async function reserveStock(
  sequelize: Sequelize,
  orderId: string,
  lines: StockLine[],
  expiresAt: Date,
  transaction: Transaction,
): Promise<ReserveResult> {
  const sorted = [...lines].sort((a, b) => a.productId - b.productId);
  const rows = await sequelize.query<{ product_id: number; available: number | null; low_stock_threshold: number | null; ok: boolean; reserved_count: number }>(
    RESERVE_SQL,
    {
      bind: [JSON.stringify(sorted.map((l) => ({ product_id: l.productId, quantity: l.quantity }))), orderId, expiresAt.toISOString()],
      transaction,
      type: QueryTypes.SELECT,
    },
  );
  const byProduct = new Map(rows.map((r) => [r.product_id, r]));
  const available = (line: StockLine) => byProduct.get(line.productId)?.available ?? 0;

  if (!rows[0]?.ok) {
    return {
      ok: false,
      shortages: sorted
        .map((line) => ({ sku: line.sku, requested: line.quantity, available: available(line) }))
        .filter((s) => s.available < s.requested),
    };
  }
  if (rows[0].reserved_count !== sorted.length) {
    // Cannot happen under the locks above; failing loudly rolls the whole transaction back.
    throw new Error(`reserved ${rows[0].reserved_count} of ${sorted.length} lines for order ${orderId}`);
  }
  return {
    ok: true,
    lines: sorted.map((line) => ({
      productId: line.productId,
      sku: line.sku,
      quantity: line.quantity,
      availableBefore: available(line),
      availableAfter: available(line) - line.quantity,
      lowStockThreshold: byProduct.get(line.productId)?.low_stock_threshold ?? 0,
    })),
  };
}

export interface SettledLine {
  productId: number;
  sku: string;
  quantity: number;
}

/**
 * Ends an order's active reservations: `commit` takes the units out of stock (payment done),
 * `release` gives them back. Returns the lines it changed (none when already settled).
 */
async function settle(
  sequelize: Sequelize,
  orderId: string,
  mode: 'commit' | 'release',
  transaction: Transaction,
): Promise<SettledLine[]> {
  const onHandChange = mode === 'commit' ? 'p.stock_on_hand - r.quantity' : 'p.stock_on_hand';
  // One statement, products locked in id order by `locked` before the UPDATE touches them (the
  // join reads `locked` first whatever plan it picks, and `locked` yields rows in id order).
  const rows = await sequelize.query<{ product_id: number; sku: string; quantity: number }>(
    `WITH r AS (
       UPDATE "Stock_Reservations"
       SET status = $2, updated_at = now()
       WHERE order_id = $1 AND status = 'active'
       RETURNING product_id, quantity
     ), locked AS MATERIALIZED (
       SELECT p.id FROM "Products" p
       WHERE p.id IN (SELECT product_id FROM r)
       ORDER BY p.id
       FOR NO KEY UPDATE
     )
     UPDATE "Products" p
     SET stock_on_hand = ${onHandChange}, stock_reserved = p.stock_reserved - r.quantity, updated_at = now()
     FROM locked k JOIN r ON r.product_id = k.id
     WHERE p.id = k.id
     RETURNING p.id AS product_id, p.sku, r.quantity`,
    { bind: [orderId, mode === 'commit' ? 'committed' : 'released'], transaction, type: QueryTypes.SELECT },
  );
  return rows
    .map((r) => ({ productId: r.product_id, sku: r.sku, quantity: r.quantity }))
    .sort((a, b) => a.productId - b.productId);
}

export const commitStock = (s: Sequelize, orderId: string, t: Transaction) => settle(s, orderId, 'commit', t);
export const releaseStock = (s: Sequelize, orderId: string, t: Transaction) => settle(s, orderId, 'release', t);
