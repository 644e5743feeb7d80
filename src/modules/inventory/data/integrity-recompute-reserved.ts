import { statement } from '../../../db/statement';
import type { ProductStock } from './product-stock';

/**
 * Sets each product's stock_reserved to the sum of its active reservations (raising
 * stock_on_hand when it would fall below that), and returns the products it changed with their
 * stock_on_hand before. Run with every product locked (integrity-lock-all-products).
 */
export const integrityRecomputeReserved = statement<Pick<ProductStock, 'id' | 'sku'> & { before: number; after: number; onHandBefore: number }>(
  'inventory.integrity_recompute_reserved',
  `WITH truth AS (
     SELECT p.id, p.stock_reserved AS before, p.stock_on_hand AS on_hand_before,
            COALESCE((SELECT sum(quantity) FROM "Stock_Reservations" r WHERE r.product_id = p.id AND r.status = 'active'), 0)::int AS after
     FROM "Products" p
   )
   UPDATE "Products" p SET stock_reserved = truth.after,
          stock_on_hand = GREATEST(p.stock_on_hand, truth.after), updated_at = now()
   FROM truth WHERE truth.id = p.id AND truth.before <> truth.after
   RETURNING p.id, p.sku, truth.before, truth.after, truth.on_hand_before AS "onHandBefore"`,
);
