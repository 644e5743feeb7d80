/** The inventory module's door: stock (reserve / commit / release), reservations and the warehouse sync. */
export { inventoryRouter } from './routes';
export { registerInventoryJobs } from './jobs';
export { reserveStock, commitStock, releaseStock, fellToLowStock, type Shortage, type StockLine, type ReservedLine, type SettledLine } from './stock';
export * from './integrity';
