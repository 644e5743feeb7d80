/** The catalog module's door: products, categories and their links. */
export { catalogRouter } from './routes';
export { Product, Category, ProductCategory, initCatalogModels, availableOf } from './models';
export { toProductView, stockOverview, type ProductView, type CategoryView, type CategoryRef, type StockLevelView } from './service';
export { AVAILABLE_SQL } from './data/stock-level';
