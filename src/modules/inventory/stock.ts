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

export interface ProductStockRow {
  id: number;
  sku: string;
  stock_on_hand: number;
  stock_reserved: number;
  low_stock_threshold: number;
}

export interface ReservedLine {
  productId: number;
  sku: string;
  quantity: number;
  availableBefore: number;
  availableAfter: number;
  lowStockThreshold: number;
}

/** A product "falls to low stock" when available stock crosses its threshold: logged once, not on every change below it. */
export function fellToLowStock(availableBefore: number, availableAfter: number, threshold: number): boolean {
  return availableBefore > threshold && availableAfter <= threshold;
}

export interface Shortage {
  sku: string;
  requested: number;
  available: number;
}

export type ReserveResult = { ok: true; lines: ReservedLine[] } | { ok: false; shortages: Shortage[] };

async function lockProducts(sequelize: Sequelize, productIds: number[], transaction: Transaction): Promise<Map<number, ProductStockRow>> {
  const rows = await sequelize.query<ProductStockRow>(
    `SELECT id, sku, stock_on_hand, stock_reserved, low_stock_threshold
     FROM "Products" WHERE id = ANY($1::int[]) ORDER BY id FOR NO KEY UPDATE`,
    { bind: [productIds], transaction, type: QueryTypes.SELECT },
  );
  return new Map(rows.map((r) => [r.id, r]));
}

/** Reserves every line or none: all-or-nothing under row locks taken in id order. */
export async function reserveStock(
  sequelize: Sequelize,
  orderId: string,
  lines: StockLine[],
  expiresAt: Date,
  transaction: Transaction,
): Promise<ReserveResult> {
  const sorted = [...lines].sort((a, b) => a.productId - b.productId);
  const products = await lockProducts(sequelize, sorted.map((l) => l.productId), transaction);
  const shortages = sorted
    .map((line) => {
      const p = products.get(line.productId);
      const available = p ? p.stock_on_hand - p.stock_reserved : 0;
      return { sku: line.sku, requested: line.quantity, available };
    })
    .filter((s) => s.available < s.requested);
  if (shortages.length) return { ok: false, shortages };

  const payload = JSON.stringify(sorted.map((l) => ({ product_id: l.productId, quantity: l.quantity })));
  const [updated] = await sequelize.query(
    `WITH lines AS (
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(product_id int, quantity int)
     ), reserved AS (
       UPDATE "Products" p
       SET stock_reserved = p.stock_reserved + lines.quantity, updated_at = now()
       FROM lines
       WHERE p.id = lines.product_id AND p.stock_on_hand - p.stock_reserved >= lines.quantity
       RETURNING p.id
     ), held AS (
       INSERT INTO "Stock_Reservations" (order_id, product_id, quantity, status, expires_at)
       SELECT $2::uuid, lines.product_id, lines.quantity, 'active', $3::timestamptz
       FROM lines JOIN reserved ON reserved.id = lines.product_id
       RETURNING id
     )
     SELECT (SELECT count(*) FROM reserved)::int AS reserved_count`,
    { bind: [payload, orderId, expiresAt.toISOString()], transaction, type: QueryTypes.RAW },
  );
  const reservedCount = (updated as Array<{ reserved_count: number }>)[0]?.reserved_count ?? 0;
  if (reservedCount !== sorted.length) {
    // Cannot happen under the locks above; failing loudly rolls the whole transaction back.
    throw new Error(`reserved ${reservedCount} of ${sorted.length} lines for order ${orderId}`);
  }
  return {
    ok: true,
    lines: sorted.map((line) => {
      const p = products.get(line.productId)!;
      const availableBefore = p.stock_on_hand - p.stock_reserved;
      return {
        productId: line.productId,
        sku: line.sku,
        quantity: line.quantity,
        availableBefore,
        availableAfter: availableBefore - line.quantity,
        lowStockThreshold: p.low_stock_threshold,
      };
    }),
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
  // Lock first, in its own statement: an UPDATE in the same statement as the FOR UPDATE would
  // work from the statement's older snapshot and can deadlock with other waiters on the row.
  const locked = await sequelize.query<{ id: number }>(
    `SELECT p.id FROM "Products" p
     WHERE p.id IN (SELECT product_id FROM "Stock_Reservations" WHERE order_id = $1 AND status = 'active')
     ORDER BY p.id FOR NO KEY UPDATE`,
    { bind: [orderId], transaction, type: QueryTypes.SELECT },
  );
  if (!locked.length) return [];
  const onHandChange = mode === 'commit' ? 'p.stock_on_hand - r.quantity' : 'p.stock_on_hand';
  const [rows] = await sequelize.query(
    `WITH r AS (
       UPDATE "Stock_Reservations"
       SET status = $2, updated_at = now()
       WHERE order_id = $1 AND status = 'active'
       RETURNING product_id, quantity
     )
     UPDATE "Products" p
     SET stock_on_hand = ${onHandChange}, stock_reserved = p.stock_reserved - r.quantity, updated_at = now()
     FROM r WHERE p.id = r.product_id
     RETURNING p.id AS product_id, p.sku, r.quantity`,
    { bind: [orderId, mode === 'commit' ? 'committed' : 'released'], transaction, type: QueryTypes.RAW },
  );
  return (rows as Array<{ product_id: number; sku: string; quantity: number }>).map((r) => ({
    productId: r.product_id,
    sku: r.sku,
    quantity: r.quantity,
  }));
}

export const commitStock = (s: Sequelize, orderId: string, t: Transaction) => settle(s, orderId, 'commit', t);
export const releaseStock = (s: Sequelize, orderId: string, t: Transaction) => settle(s, orderId, 'release', t);
