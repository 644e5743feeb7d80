import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { killAllChildren, runToExit } from '../helpers/child-service';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadConfig(${JSON.stringify(env)}) did not throw`);
}

describe('foundation: configuration', () => {
  afterAll(async () => {
    await killAllChildren();
  });

  it('when PORT is not a number, then loadConfig throws a ConfigError of one line naming PORT and the bad value', () => {
    const error = configError({ PORT: 'abc' });
    expect(error.name).toBe('ConfigError');
    expect(error.message).toBe('PORT must be a port number, got "abc"');
  });

  it('when PORT is out of range or fractional, then it is rejected as a port number', () => {
    expect(configError({ PORT: '70000' }).message).toBe('PORT must be a port number, got "70000"');
    expect(configError({ PORT: '-1' }).message).toBe('PORT must be a port number, got "-1"');
    expect(configError({ PORT: '80.5' }).message).toBe('PORT must be a port number, got "80.5"');
  });

  it('when INVENTORY_SYNC_CRON is not a cron expression, then the error names INVENTORY_SYNC_CRON', () => {
    expect(configError({ INVENTORY_SYNC_CRON: 'every five minutes' }).message).toBe(
      'INVENTORY_SYNC_CRON must be a valid cron expression, got "every five minutes"',
    );
    expect(configError({ INVENTORY_SYNC_CRON: '61 * * * *' }).message).toMatch(/^INVENTORY_SYNC_CRON must be a valid cron expression/);
  });

  it('when DB_DIALECT is mysql, then the error names DB_DIALECT and says postgres is the only dialect', () => {
    expect(configError({ DB_DIALECT: 'mysql' }).message).toBe(
      'DB_DIALECT must be "postgres" (the only supported dialect), got "mysql"',
    );
    expect(loadConfig({ DB_DIALECT: 'postgres' }).db).toBeDefined();
  });

  it('when PAYMENT_FAILURE_RATE is 2, then the error names PAYMENT_FAILURE_RATE and the allowed range', () => {
    expect(configError({ PAYMENT_FAILURE_RATE: '2' }).message).toBe('PAYMENT_FAILURE_RATE must be a number between 0 and 1, got "2"');
    expect(configError({ PAYMENT_FAILURE_RATE: 'lots' }).message).toBe('PAYMENT_FAILURE_RATE must be a number between 0 and 1, got "lots"');
  });

  it('when INTAKE_MAX_BACKLOG_S is not below RESERVATION_TTL_S, then the error names both (shedding would come too late); unset, it is a third of the TTL but at most a minute', () => {
    expect(configError({ RESERVATION_TTL_S: '60', INTAKE_MAX_BACKLOG_S: '60' }).message).toBe('INTAKE_MAX_BACKLOG_S must be less than RESERVATION_TTL_S (60), got 60');
    expect(loadConfig({ RESERVATION_TTL_S: '60', INTAKE_MAX_BACKLOG_S: '45' }).orders.maxBacklogSeconds).toBe(45);
    expect(loadConfig({ RESERVATION_TTL_S: '60' }).orders.maxBacklogSeconds).toBe(20);
    expect(loadConfig({ RESERVATION_TTL_S: '900' }).orders.maxBacklogSeconds).toBe(60);
    expect(loadConfig({}).orders.maxBacklogSeconds).toBe(60);
  });

  it('when a secret or a URL with a password is bad, then the error names the variable but never shows the secret', () => {
    const shortSecret = configError({ JWT_SECRET: 'my-short-secret' }).message;
    expect(shortSecret).toBe('JWT_SECRET must be at least 32 characters, got a value of 15 characters (not shown)');
    expect(shortSecret).not.toContain('my-short-secret');
    const badUrl = configError({ DATABASE_URL: 'mysql://shop:hunter2@db.example:3306/orders' }).message;
    expect(badUrl).toBe('DATABASE_URL must be a postgres:// URL, got "mysql://***@db.example:3306/orders"');
    expect(badUrl).not.toContain('hunter2');
    // A password with "/" or "@" in it is what makes such a URL invalid: none of it may show.
    for (const secret of ['pa/ss', 'p@ss']) {
      const message = configError({ DATABASE_URL: `postgres://shop:${secret}@db.example/orders` }).message;
      expect(message).toBe('DATABASE_URL must be a postgres:// URL, got "postgres://***@db.example/orders"');
    }
    const provider = configError({ PAYMENT_PROVIDER_URL: 'ftp://svc:tok3n@pay.example' }).message;
    expect(provider).toBe('PAYMENT_PROVIDER_URL must be an http(s) URL, got "ftp://***@pay.example"');
  });

  it('when several variables are bad, then every message is a single line naming a variable', () => {
    const cases: Record<string, string>[] = [
      { DATABASE_URL: 'mysql://localhost/x' },
      { ROLE: 'everything' },
      { LOG_LEVEL: 'loud' },
      { MIGRATE_ON_START: 'maybe' },
      { BODY_LIMIT: 'huge' },
      { WORKER_POLL_INTERVAL_S: '0.1' },
      { SWEEPER_CRON: 'x' },
      { WAREHOUSE_URL: 'ftp://example.com' },
      { DB_PORT: 'five' },
    ];
    for (const env of cases) {
      const [name, value] = Object.entries(env)[0];
      const { message } = configError(env);
      expect(message).not.toContain('\n');
      expect(message.startsWith(`${name} `)).toBe(true);
      expect(message.endsWith(`got ${JSON.stringify(value)}`)).toBe(true);
    }
  });

  it('when nothing is set, then the defaults apply and the config is frozen all the way down', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.role).toBe('all');
    expect(config.bodyLimit).toBe('100kb');
    expect(config.migrateOnStart).toBe(true);
    expect(config.db.url).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.db)).toBe(true);
    expect(Object.isFrozen(config.payments.mock)).toBe(true);
  });

  it('when DATA_DIR is relative, then it is resolved against the project root (as config/config.js does), not the working directory', () => {
    const root = path.resolve(__dirname, '..', '..');
    const cwd = process.cwd();
    process.chdir(os.tmpdir());
    try {
      expect(loadConfig({}).dataDir).toBe(path.join(root, '.data'));
      expect(loadConfig({ DATA_DIR: 'var/state' }).dataDir).toBe(path.join(root, 'var', 'state'));
      expect(loadConfig({ DATA_DIR: '/srv/orderloop' }).dataDir).toBe('/srv/orderloop');
    } finally {
      process.chdir(cwd);
    }
  });

  it('when a variable is an empty string, then it counts as unset and takes its default', () => {
    const config = loadConfig({ PORT: '', DATABASE_URL: '', MIGRATE_ON_START: '' });
    expect(config.port).toBe(3000);
    expect(config.db.url).toBeUndefined();
    expect(config.migrateOnStart).toBe(true);
  });

  it('when the service starts with PORT=abc, then it exits with code 1 and prints one line naming PORT', async () => {
    const result = await runToExit({ PORT: 'abc' });
    expect(result.code).toBe(1);
    const lines = `${result.stdout}${result.stderr}`.split('\n').filter((line) => line.trim() !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('PORT must be a port number, got "abc"');
    expect(result.stderr).toContain('PORT');
  });

  it('when the service starts with DB_DIALECT=mysql, then it exits with code 1 before touching any database', async () => {
    const result = await runToExit({ DB_DIALECT: 'mysql' });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('DB_DIALECT must be "postgres"');
    expect(result.stdout).not.toContain('Embedded PostgreSQL');
  });
});
