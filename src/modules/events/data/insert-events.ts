import { statement } from '../../../db/statement';
import { API_VERSION } from '../catalog';

/**
 * Events that are not an order's status change (inventory's, a ping), in one statement: $1 is a
 * JSON array of `{type, data}`. `dispatched` true writes them as already dispatched (a ping has
 * its one delivery made with it, and no endpoint should get it from the relay).
 */
export const insertEvents = statement<{ id: string; type: string }, [events: string, dispatched: boolean]>(
  'events.insert_events',
  `INSERT INTO "Events" (type, api_version, data, dispatched_at)
   SELECT e.type, '${API_VERSION}', e.data, CASE WHEN $2 THEN now() END
   FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (type text, data jsonb)) WITH ORDINALITY AS e(type, data, ord)
   ORDER BY e.ord
   RETURNING id, type`,
);
