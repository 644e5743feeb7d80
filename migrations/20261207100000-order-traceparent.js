'use strict';

/**
 * Traces (expand only; nothing to migrate or contract): "Orders".traceparent holds the W3C
 * traceparent of the request that created the order (null while tracing is off), so the order's
 * later jobs join its trace and GET /orders/:id shows its trace id. A nullable column without a
 * default is a catalog change: the table's lock is held for a moment, under a short lock timeout.
 * Code from before neither reads nor writes it.
 */
module.exports = {
  async up(queryInterface) {
    await queryInterface.sequelize.transaction(async (transaction) => {
      await queryInterface.sequelize.query("SET LOCAL lock_timeout = '5s'", { transaction });
      await queryInterface.sequelize.query('ALTER TABLE "Orders" ADD COLUMN IF NOT EXISTS traceparent varchar(55)', { transaction });
    });
  },

  async down(queryInterface) {
    await queryInterface.sequelize.query('ALTER TABLE "Orders" DROP COLUMN IF EXISTS traceparent');
  },
};
