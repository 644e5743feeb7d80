'use strict';

/**
 * Order events out (expand only; nothing to migrate or contract):
 * - "Orders".event_sequence: how many events the order has had, so each of its events carries
 *   the next number. A constant default: adding it rewrites nothing. Orders from before start
 *   at 0, and their next event is number 1.
 * - "Events": the transactional outbox. Each event is inserted in the transaction of the change
 *   it reports; dispatched_at is set once the webhook relay has made its deliveries.
 * - A trigger NOTIFYs `orderloop_events` for every event as its transaction commits, so any
 *   process holding a live stream hears of changes made by any other process.
 * - "Webhook_Endpoints", "Webhook_Deliveries" (one per event and endpoint), "Webhook_Attempts"
 *   (each POST made for a delivery).
 */
const { setTimeout: sleep } = require('node:timers/promises');

const LOCK_TIMEOUT = '2s';
const ATTEMPTS = 3;
const LOCK_NOT_AVAILABLE = '55P03';

/** Adding a column takes "Orders"' lock for a moment: wait at most LOCK_TIMEOUT for it, so busy intake is not stalled behind the wait. */
async function withShortLock(sequelize, sql) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await sequelize.transaction(async (transaction) => {
        await sequelize.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`, { transaction });
        await sequelize.query(sql, { transaction });
      });
    } catch (error) {
      const code = error && (error.parent || error.original || error).code;
      if (code !== LOCK_NOT_AVAILABLE || attempt >= ATTEMPTS) throw error;
      await sleep(500 * attempt);
    }
  }
}

module.exports = {
  async up(queryInterface) {
    const { sequelize } = queryInterface;
    await withShortLock(sequelize, 'ALTER TABLE "Orders" ADD COLUMN IF NOT EXISTS event_sequence integer NOT NULL DEFAULT 0');
    await sequelize.query(`
      CREATE TABLE IF NOT EXISTS "Events" (
        id            uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
        type          varchar(64)  NOT NULL,
        order_id      uuid,
        customer_id   varchar(64),
        sequence      integer,
        api_version   varchar(16)  NOT NULL,
        data          jsonb        NOT NULL,
        dispatched_at timestamptz,
        created_at    timestamptz  NOT NULL DEFAULT now(),
        CONSTRAINT events_sequence_with_order CHECK ((order_id IS NULL) = (sequence IS NULL))
      )`);
    await sequelize.query('CREATE UNIQUE INDEX IF NOT EXISTS events_order_sequence ON "Events" (order_id, sequence) WHERE order_id IS NOT NULL');
    await sequelize.query('CREATE INDEX IF NOT EXISTS events_undispatched ON "Events" (created_at) WHERE dispatched_at IS NULL');
    await sequelize.query(`
      CREATE OR REPLACE FUNCTION orderloop_notify_event() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('orderloop_events', json_build_object(
          'id', NEW.id, 'type', NEW.type, 'orderId', NEW.order_id, 'customerId', NEW.customer_id, 'sequence', NEW.sequence)::text);
        RETURN NULL;
      END $$`);
    await sequelize.query('DROP TRIGGER IF EXISTS events_notify ON "Events"');
    await sequelize.query('CREATE TRIGGER events_notify AFTER INSERT ON "Events" FOR EACH ROW EXECUTE FUNCTION orderloop_notify_event()');

    await sequelize.query(`
      CREATE TABLE IF NOT EXISTS "Webhook_Endpoints" (
        id                   uuid          PRIMARY KEY,
        url                  varchar(2048) NOT NULL,
        description          varchar(500),
        events               varchar(64)[] NOT NULL CHECK (cardinality(events) > 0),
        customer_id          varchar(64),
        secret               varchar(100)  NOT NULL,
        enabled              boolean       NOT NULL DEFAULT true,
        disabled_reason      varchar(500),
        consecutive_failures integer       NOT NULL DEFAULT 0,
        created_at           timestamptz   NOT NULL DEFAULT now(),
        updated_at           timestamptz   NOT NULL DEFAULT now()
      )`);
    await sequelize.query(`
      CREATE TABLE IF NOT EXISTS "Webhook_Deliveries" (
        id               uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
        endpoint_id      uuid         NOT NULL REFERENCES "Webhook_Endpoints" (id) ON DELETE CASCADE,
        event_id         uuid         NOT NULL REFERENCES "Events" (id) ON DELETE CASCADE,
        status           varchar(16)  NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts         integer      NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        last_http_status integer,
        last_error       varchar(500),
        next_attempt_at  timestamptz,
        delivered_at     timestamptz,
        created_at       timestamptz  NOT NULL DEFAULT now(),
        updated_at       timestamptz  NOT NULL DEFAULT now(),
        UNIQUE (event_id, endpoint_id)
      )`);
    await sequelize.query('CREATE INDEX IF NOT EXISTS webhook_deliveries_endpoint ON "Webhook_Deliveries" (endpoint_id, created_at DESC, id DESC)');
    // The dashboard counts deliveries still pending or failed: few, however many were delivered.
    await sequelize.query(`CREATE INDEX IF NOT EXISTS webhook_deliveries_unsettled ON "Webhook_Deliveries" (status) WHERE status <> 'delivered'`);
    await sequelize.query(`
      CREATE TABLE IF NOT EXISTS "Webhook_Attempts" (
        id            bigserial    PRIMARY KEY,
        delivery_id   uuid         NOT NULL REFERENCES "Webhook_Deliveries" (id) ON DELETE CASCADE,
        attempt       integer      NOT NULL CHECK (attempt > 0),
        outcome       varchar(16)  NOT NULL CHECK (outcome IN ('delivered', 'failed')),
        http_status   integer,
        duration_ms   integer      NOT NULL,
        error         varchar(500),
        next_retry_at timestamptz,
        created_at    timestamptz  NOT NULL DEFAULT now()
      )`);
    await sequelize.query('CREATE INDEX IF NOT EXISTS webhook_attempts_delivery ON "Webhook_Attempts" (delivery_id, attempt)');
  },

  async down(queryInterface) {
    const { sequelize } = queryInterface;
    await sequelize.query('DROP TABLE IF EXISTS "Webhook_Attempts"');
    await sequelize.query('DROP TABLE IF EXISTS "Webhook_Deliveries"');
    await sequelize.query('DROP TABLE IF EXISTS "Webhook_Endpoints"');
    await sequelize.query('DROP TABLE IF EXISTS "Events"');
    await sequelize.query('DROP FUNCTION IF EXISTS orderloop_notify_event()');
    await withShortLock(sequelize, 'ALTER TABLE "Orders" DROP COLUMN IF EXISTS event_sequence');
  },
};
