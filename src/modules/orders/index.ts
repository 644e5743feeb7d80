/** The orders module's door: intake, the order lifecycle and its jobs. */
export { ordersRouter } from './routes';
export { registerOrderJobs } from './jobs';
