import { literal } from 'sequelize';

/**
 * The SQL twin of Product#available (src/modules/catalog/models.ts), for WHERE and ORDER BY in
 * queries on "Products". Columns are unqualified: no other catalog table has them.
 */
export const AVAILABLE_SQL = 'stock_on_hand - stock_reserved';

/** Available at or below the product's low-stock threshold. */
export const isLowStock = () => literal(`(${AVAILABLE_SQL}) <= low_stock_threshold`);
