import { statement } from '../../../db/statement';
import { settleReservationsSql, type SettledRow } from './settle-reservations';

/** The orders will not be paid: their reservations become released and their units are available again (on hand stays). */
export const releaseReservations = statement<SettledRow, [orderIds: string[]]>(
  'inventory.release_reservations',
  settleReservationsSql('released', 'stock_reserved = p.stock_reserved - totals.quantity'),
);
