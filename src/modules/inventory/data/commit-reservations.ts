import { statement } from '../../../db/statement';
import { settleReservationsSql, type SettledRow } from './settle-reservations';

/** Payment done: the orders' reservations become committed and their units leave stock (on hand and reserved both drop). */
export const commitReservations = statement<SettledRow, [orderIds: string[]]>(
  'inventory.commit_reservations',
  settleReservationsSql('committed', 'stock_on_hand = p.stock_on_hand - totals.quantity, stock_reserved = p.stock_reserved - totals.quantity'),
);
