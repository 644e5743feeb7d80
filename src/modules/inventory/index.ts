/** The inventory module's door: stock (reserve / commit / release), reservations and the warehouse sync. */
export { inventoryRouter } from './routes';
export { registerInventoryJobs, tickOf, tickSlotSeconds } from './jobs';
export { reserveStock, reserveStockBatch, commitStockOf, releaseStock, restockOrder, fellToLowStock, type Shortage, type StockLine, type ReservedLine, type SettledLine, type ReserveResult, type OrderToReserve } from './stock';
export { StockReservation, InventorySync, initInventoryModels, RESERVATION_STATUSES, type ReservationStatus } from './models';
export { InventoryService, recentSyncs, SYNC_SINGLETON_KEY, type RecentSync } from './service';
export { SyncRunner, type SyncRequest, type SyncSummary } from './sync';
export * from './integrity';
