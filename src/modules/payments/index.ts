/** The payments module's door: the provider adapter (and, with its model, the "Payments" table). */
export * from './adapter';
