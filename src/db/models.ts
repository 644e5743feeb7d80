import type { Sequelize } from 'sequelize';
import { initAuthModels } from '../modules/auth';
import { initCatalogModels, Product } from '../modules/catalog';
import { initInventoryModels, StockReservation } from '../modules/inventory';
import { initOrderModels, Order, OrderItem } from '../modules/orders';
import { initPaymentModels, Payment, Refund } from '../modules/payments';
import { initEventModels } from '../modules/events';

/**
 * Binds every module's models to `sequelize` (then listed in `sequelize.models`) and links the
 * modules' models to each other. Each module defines its own models and the associations inside
 * it; only associations that cross a module boundary are defined here, so no module imports
 * another's models. Sequelize models are classes bound to one instance: the last call wins, so
 * a process calls this once, for the Sequelize it serves requests and jobs with.
 */
export function registerModels(sequelize: Sequelize): Sequelize {
  initCatalogModels(sequelize);
  initInventoryModels(sequelize);
  initOrderModels(sequelize);
  initPaymentModels(sequelize);
  initAuthModels(sequelize);
  initEventModels(sequelize);

  Order.hasMany(Payment, { as: 'payments', foreignKey: 'orderId' });
  Payment.belongsTo(Order, { as: 'order', foreignKey: 'orderId' });
  Order.hasMany(Refund, { as: 'refunds', foreignKey: 'orderId' });
  Refund.belongsTo(Order, { as: 'order', foreignKey: 'orderId' });
  Order.hasMany(StockReservation, { as: 'reservations', foreignKey: 'orderId' });
  StockReservation.belongsTo(Order, { as: 'order', foreignKey: 'orderId' });
  OrderItem.belongsTo(Product, { as: 'product', foreignKey: 'productId' });
  StockReservation.belongsTo(Product, { as: 'product', foreignKey: 'productId' });
  Product.hasMany(StockReservation, { as: 'reservations', foreignKey: 'productId' });
  return sequelize;
}
