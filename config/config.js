'use strict';

/**
 * sequelize-cli's view of the database, following the same rule as the service
 * (src/db/database.ts): DATABASE_URL, else DB_*, else the embedded PostgreSQL that
 * a running `npm start` announced in .data/database.url.
 */
const fs = require('node:fs');
const path = require('node:path');

require('dotenv').config({ path: path.join(__dirname, '..', '.env'), quiet: true });

function resolve() {
  const env = process.env;
  if (env.DB_DIALECT && env.DB_DIALECT !== 'postgres') {
    throw new Error(`DB_DIALECT must be "postgres" (the only supported dialect), got ${JSON.stringify(env.DB_DIALECT)}`);
  }
  const common = { dialect: 'postgres', logging: false, seederStorage: 'sequelize', seederStorageTableName: 'SequelizeData' };
  if (env.DATABASE_URL) return { ...common, url: env.DATABASE_URL };
  if (env.DB_HOST) {
    return {
      ...common,
      host: env.DB_HOST,
      port: Number(env.DB_PORT || 5432),
      username: env.DB_USER || 'postgres',
      password: env.DB_PASS || null,
      database: env.DB_DATABASE || 'orderloop',
    };
  }
  const urlFile = path.resolve(__dirname, '..', env.DATA_DIR || '.data', 'database.url');
  if (fs.existsSync(urlFile)) return { ...common, url: fs.readFileSync(urlFile, 'utf8').trim() };
  throw new Error(
    'No database configured: set DATABASE_URL (or DB_HOST, DB_PORT, DB_USER, DB_PASS, DB_DATABASE), ' +
      'or start the service with `npm start` so its embedded PostgreSQL is running.',
  );
}

const settings = resolve();
module.exports = { development: settings, test: settings, production: settings };
