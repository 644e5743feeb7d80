/**
 * The orders module's door: intake and the order API, the order flow's jobs, the lifecycle,
 * the "Orders", "Order_Items" and "Order_Logs" models (only this module writes those tables),
 * the orders side of the integrity check, and the dashboard's order counts.
 */
export { ordersRouter } from './routes';
export { registerOrderJobs } from './jobs';
// The flow's steps one at a time, for tests that drive a job by hand (a redelivery, a step out of order).
export { OrderFlow } from './flow';
export { Order, OrderItem, OrderLog, initOrderModels } from './models';
export {
  ORDER_STATUSES,
  OPEN_STATUSES,
  TERMINAL_STATUSES,
  TERMINAL_EVENTS,
  ORDER_EVENTS,
  FAILURE_REASONS,
  isTerminal,
  isOpen,
  paymentIdempotencyKey,
  type OrderStatus,
  type OpenStatus,
  type TerminalStatus,
  type FailureReason,
  type OrderEvent,
} from './lifecycle';
export { checkOrderIntegrity, releaseOrphanedReservations, type OrderProblemKind } from './integrity';
export { orderStats, type OrderStats, type MinuteBucket } from './stats';
