/** The catalog module's door: products, categories and their links. */
export { catalogRouter } from './routes';
