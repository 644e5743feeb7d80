import type pg from 'pg';
import { EVENTS_CHANNEL } from '../catalog';

/**
 * Not a statement() (it runs on the hub's own pg.Client, outside the pool): the LISTEN that makes
 * the session hear each committed event's NOTIFY.
 */
export async function listenForEvents(client: pg.Client): Promise<void> {
  await client.query(`LISTEN ${EVENTS_CHANNEL}`);
}
