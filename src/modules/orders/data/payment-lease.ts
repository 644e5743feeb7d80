/**
 * Not a statement: whether the payment lease (PAYMENT_LEASE in lifecycle.ts) is held, on the
 * database's clock, for the statements that must not touch an order whose charge attempt is in
 * flight. `table` qualifies the column when the statement joins ("o.").
 */
export const paymentLeaseHeldSql = (table = '') => `COALESCE(${table}payment_lease_until > now(), false)`;
