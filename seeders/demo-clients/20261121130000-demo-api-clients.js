'use strict';

/**
 * Demo API clients for local use (README publishes their secrets, so anyone who reads it could
 * sign in as demo-admin). Kept apart from the demo catalog: `db:seed:all` does not run this
 * folder; `npm run db:seed:demo-clients` (or `npm run db:seed`, the local set-up) does, and
 * it refuses under NODE_ENV=production. Only scrypt hashes are stored, in the format of
 * src/modules/auth/secrets.ts. Idempotent: seeding twice changes nothing.
 */
const DEMO_CLIENTS = [
  { client_id: 'demo-admin', role: 'admin', customer_id: null, name: 'Demo admin',
    secret_hash: 'scrypt$16384$8$1$U3aCTzh7CMWPbo8XP9doXA$VMe3qNFUg8EgSDn7b8TZbRLlA-i91vTDSt6MxIq7gvM' },
  { client_id: 'demo-shop-cust-001', role: 'customer', customer_id: 'cust_001', name: 'Demo shop for cust_001',
    secret_hash: 'scrypt$16384$8$1$ulJs33zGtSUashmGOcJ3PQ$U6eg0uX1VkQ1I31mPHsjUAEPRvbX_MKvj3ZAXxPJCvc' },
  { client_id: 'demo-shop-cust-002', role: 'customer', customer_id: 'cust_002', name: 'Demo shop for cust_002',
    secret_hash: 'scrypt$16384$8$1$_N1oXJLElZSD81MLx1Zyeg$RKxOP2rn8LeZgKkNhAnfEvrCliQrjxnRVqDJpZRd-3M' },
];

module.exports = {
  async up(queryInterface) {
    if (process.env.NODE_ENV === 'production') {
      throw new Error(
        'Refusing to create the demo API clients with NODE_ENV=production: their secrets are published in README. ' +
          'Create real clients with `npm run clients:create`.',
      );
    }
    await queryInterface.sequelize.query(
      `INSERT INTO "Api_Clients" (client_id, secret_hash, role, customer_id, name)
       SELECT x.client_id, x.secret_hash, x.role, x.customer_id, x.name
       FROM jsonb_to_recordset($1::jsonb) AS x(client_id text, secret_hash text, role text, customer_id text, name text)
       ON CONFLICT (client_id) DO NOTHING`,
      { bind: [JSON.stringify(DEMO_CLIENTS)] },
    );
  },

  async down(queryInterface) {
    await queryInterface.sequelize.query(`DELETE FROM "Api_Clients" WHERE client_id = ANY($1::text[])`, {
      bind: [DEMO_CLIENTS.map((c) => c.client_id)],
    });
  },
};
