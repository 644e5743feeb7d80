import { statement } from '../../../db/statement';

/** One attempt's outcome as recordAttempts takes it. */
export interface AttemptRecord {
  delivery_id: string;
  outcome: 'delivered' | 'failed';
  http_status: number | null;
  duration_ms: number;
  error: string | null;
  /** Failed and not final: the earliest time of the next attempt. */
  next_retry_at: string | null;
  /** A failure after which no attempt follows: the delivery is failed. */
  final: boolean;
}

/**
 * Records a group of attempts in one statement: each delivery still pending counts the attempt
 * and becomes delivered, failed (final) or stays pending with its next retry; each attempt gets
 * its "Webhook_Attempts" row. Per endpoint, a delivery made resets the run of failed deliveries;
 * deliveries failed for good lengthen it, and a run of $2 disables the endpoint with the reason.
 * $1: a JSON array of AttemptRecord. Returns the deliveries that changed.
 */
export const recordAttempts = statement<{ deliveryId: string; attempts: number; status: string }, [attempts: string, disableAfter: number]>(
  'events.record_attempts',
  `WITH a AS (
     SELECT * FROM jsonb_to_recordset($1::jsonb)
       AS a(delivery_id uuid, outcome text, http_status int, duration_ms int, error text, next_retry_at timestamptz, final boolean)
   ), d AS (
     UPDATE "Webhook_Deliveries" d
     SET attempts = d.attempts + 1,
         -- A re-sent delivery that had been made before stays delivered whatever this attempt did.
         status = CASE WHEN a.outcome = 'delivered' OR (a.final AND d.delivered_at IS NOT NULL) THEN 'delivered' WHEN a.final THEN 'failed' ELSE 'pending' END,
         last_http_status = a.http_status,
         last_error = a.error,
         next_attempt_at = CASE WHEN a.outcome = 'failed' AND NOT a.final THEN a.next_retry_at END,
         delivered_at = CASE WHEN a.outcome = 'delivered' THEN now() ELSE d.delivered_at END,
         updated_at = now()
     FROM a
     WHERE d.id = a.delivery_id AND d.status = 'pending'
     RETURNING d.id, d.endpoint_id, d.attempts, d.status, a.outcome, a.http_status, a.duration_ms, a.error, a.next_retry_at
   ), logged AS (
     INSERT INTO "Webhook_Attempts" (delivery_id, attempt, outcome, http_status, duration_ms, error, next_retry_at)
     SELECT id, attempts, outcome, http_status, duration_ms, error, CASE WHEN status = 'pending' THEN next_retry_at END FROM d
   ), per_endpoint AS (
     SELECT endpoint_id, bool_or(status = 'delivered') AS made, count(*) FILTER (WHERE status = 'failed') AS failed, max(error) AS error
     FROM d GROUP BY endpoint_id
   ), endpoints AS (
     UPDATE "Webhook_Endpoints" w
     SET consecutive_failures = CASE WHEN p.made THEN 0 ELSE w.consecutive_failures + p.failed END,
         enabled = w.enabled AND (p.made OR w.consecutive_failures + p.failed < $2),
         disabled_reason = CASE
           WHEN w.enabled AND NOT p.made AND w.consecutive_failures + p.failed >= $2
             THEN format('Disabled at %s: %s deliveries in a row failed after every retry (last error: %s)',
                         to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), w.consecutive_failures + p.failed, p.error)
           ELSE w.disabled_reason END,
         updated_at = now()
     FROM per_endpoint p
     WHERE w.id = p.endpoint_id AND ((p.made AND w.consecutive_failures > 0) OR p.failed > 0)
   )
   SELECT id AS "deliveryId", attempts, status FROM d`,
);
