import { statement } from '../../../db/statement';
import { insertLogRowsSql } from './log-rows';

/** Appends several log rows of one order, in one statement. $2: the rows (order-log.ts, logRowsParam). */
export const appendLogs = statement<Record<string, never>, [orderId: string, rows: string]>(
  'orders.append_logs',
  insertLogRowsSql('$1::uuid', '', 2),
);
