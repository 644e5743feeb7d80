import { statement } from '../../../db/statement';
import type { ProductStock } from './product-stock';

/** Every product's stock columns next to what its active reservations hold: the stock invariants' evidence. */
export const integrityStockReport = statement<Pick<ProductStock, 'sku' | 'stockOnHand' | 'stockReserved'> & { activeReserved: number }>(
  'inventory.integrity_stock_report',
  `SELECT p.sku, p.stock_on_hand AS "stockOnHand", p.stock_reserved AS "stockReserved",
          COALESCE((SELECT sum(quantity) FROM "Stock_Reservations" r WHERE r.product_id = p.id AND r.status = 'active'), 0)::int AS "activeReserved"
   FROM "Products" p ORDER BY p.id`,
);
