/** The admin module's door: the operations dashboard and its read API. */
export { adminRouter } from './routes';
export { dashboardRouter } from './dashboard';
