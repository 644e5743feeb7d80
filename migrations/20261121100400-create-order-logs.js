'use strict';

/** The story of every order, one row per step, readable with psql: ORDER BY id within an order. */
module.exports = {
  async up(queryInterface) {
    await queryInterface.sequelize.query(`
      CREATE TABLE "Order_Logs" (
        id          bigserial    PRIMARY KEY,
        order_id    uuid         NOT NULL REFERENCES "Orders" (id) ON DELETE CASCADE,
        event       varchar(40)  NOT NULL,
        from_status varchar(16),
        to_status   varchar(16),
        attempt     integer,
        message     text         NOT NULL,
        details     jsonb,
        job_id      uuid,
        request_id  varchar(128),
        created_at  timestamptz  NOT NULL DEFAULT now()
      )`);
    await queryInterface.sequelize.query('CREATE INDEX order_logs_order_id_id ON "Order_Logs" (order_id, id)');
  },

  async down(queryInterface) {
    await queryInterface.sequelize.query('DROP TABLE IF EXISTS "Order_Logs"');
  },
};
