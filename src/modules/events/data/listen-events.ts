import { EVENTS_CHANNEL } from '../catalog';

/**
 * Not a statement() (it runs on the hub's own pg.Client, outside the pool): the LISTEN that makes
 * a session hear each committed event's NOTIFY.
 */
export const LISTEN_EVENTS_SQL = `LISTEN ${EVENTS_CHANNEL}`;
