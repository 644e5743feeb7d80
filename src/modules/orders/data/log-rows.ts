/**
 * Not a statement: the INSERT that the statements writing log rows share. The rows travel as
 * one jsonb array parameter (see order-log.ts, logRowsParam), so any number of them costs one
 * statement, and they keep their order (ids follow the array).
 *
 * `orderIdSql` yields the order's id, `from` names what it is selected from, `param` is the
 * number of the jsonb parameter.
 */
export const insertLogRowsSql = (orderIdSql: string, from: string, param: number) =>
  insertLogRowsFrom(orderIdSql, `${from}jsonb_array_elements($${param}::jsonb) WITH ORDINALITY AS e(v, ord)`, 'e.ord');

/** The same INSERT over any source that yields the log entries as `e.v`, in `orderBy` order. */
export const insertLogRowsFrom = (orderIdSql: string, source: string, orderBy: string) =>
  `INSERT INTO "Order_Logs" (order_id, event, from_status, to_status, attempt, message, details, job_id, request_id)
     SELECT ${orderIdSql}, e.v->>'event', e.v->>'from_status', e.v->>'to_status', (e.v->>'attempt')::int, e.v->>'message',
            NULLIF(e.v->'details', 'null'::jsonb), (e.v->>'job_id')::uuid, e.v->>'request_id'
     FROM ${source}
     ORDER BY ${orderBy}`;
