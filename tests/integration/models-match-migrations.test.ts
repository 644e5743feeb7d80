import { DataTypes, type ModelStatic, type Model, type ModelAttributeColumnOptions } from 'sequelize';
import { startTestApp, type TestApp } from '../helpers/test-app';

/**
 * The models are written by hand and the schema by the migrations: this keeps them from drifting
 * apart. On a database migrated by the production migrations, every model's table must have
 * exactly the model's columns, with the same types, nullability and defaults, and every table
 * the migrations create must have a model.
 */

type ColumnFacts = { type: string; allowNull: boolean; defaultValue: string | null };

/** describeTable spells types the way information_schema does; the models the way Sequelize writes DDL. */
function normaliseDbType(type: string): string {
  return type
    .toUpperCase()
    .replace(/^CHARACTER VARYING/, 'VARCHAR')
    .replace(/^CHARACTER\(/, 'CHAR(');
}

function modelType(attribute: ModelAttributeColumnOptions): string {
  const type = attribute.type as { toSql(): string; key: string };
  if (type.key === 'ENUM') return 'USER-DEFINED';
  // information_schema names an array column ARRAY, without its element type.
  if (type.key === 'ARRAY') return 'ARRAY';
  return type.toSql().toUpperCase();
}

/** A column default as the model should state it: 'sequence', 'now', 'uuid', or the literal's text. */
function dbDefault(stated: string | boolean | null): string | null {
  if (stated === null || stated === undefined) return null;
  // describeTable hands a boolean column's default over as a boolean.
  const raw = String(stated);
  if (/^nextval\(/.test(raw)) return 'sequence';
  if (/^(now\(\)|CURRENT_TIMESTAMP)$/i.test(raw)) return 'now';
  if (/^gen_random_uuid\(\)$/.test(raw)) return 'uuid';
  const literal = /^'(.*)'::[a-z ]+$/s.exec(raw);
  return literal ? literal[1] : raw;
}

function modelDefault(model: ModelStatic<Model>, attribute: ModelAttributeColumnOptions): string | null {
  if (attribute.autoIncrement) return 'sequence';
  const value = attribute.defaultValue;
  const timestamps = model.options.timestamps !== false;
  const managedTimestamp = timestamps && [model.options.createdAt ?? 'createdAt', model.options.updatedAt ?? 'updatedAt']
    .filter((a) => a !== false)
    .some((a) => (model.getAttributes() as Record<string, ModelAttributeColumnOptions>)[a as string] === attribute);
  if (value instanceof DataTypes.NOW || value === DataTypes.NOW || managedTimestamp) return 'now';
  if (value instanceof DataTypes.UUIDV4 || value === DataTypes.UUIDV4) return 'uuid';
  if (value === undefined || value === null) return null;
  if (typeof value === 'object') return JSON.stringify(value);
  if (typeof value === 'boolean') return String(value);
  return String(value);
}

describe('models and migrations', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.stop();
  });

  it('when the production migrations have run, then every table they create has a model', async () => {
    const tables = (await t.ctx.sequelize.getQueryInterface().showAllTables()).map(String).filter((name) => name !== 'SequelizeMeta');
    const modelled = Object.values(t.ctx.sequelize.models).map((m) => String(m.getTableName()));
    expect([...modelled].sort()).toEqual([...tables].sort());
  });

  it('when a model is compared with its table, then columns, types, nullability and defaults agree', async () => {
    const qi = t.ctx.sequelize.getQueryInterface();
    const mismatches: string[] = [];
    for (const model of Object.values(t.ctx.sequelize.models)) {
      const table = String(model.getTableName());
      const columns = (await qi.describeTable(table)) as Record<string, ColumnFacts>;
      const attributes = Object.values(model.getAttributes()) as Array<ModelAttributeColumnOptions & { field: string }>;
      const byField = new Map(attributes.map((a) => [a.field, a]));
      for (const column of Object.keys(columns)) {
        if (!byField.has(column)) mismatches.push(`${table}.${column}: in the table, not in model ${model.name}`);
      }
      for (const attribute of attributes) {
        const column = columns[attribute.field];
        if (!column) {
          mismatches.push(`${table}.${attribute.field}: in model ${model.name}, not in the table`);
          continue;
        }
        const where = `${table}.${attribute.field}`;
        const dbType = normaliseDbType(column.type);
        const mType = modelType(attribute);
        if (dbType !== mType) mismatches.push(`${where}: table type ${dbType}, model type ${mType}`);
        const modelAllowsNull = attribute.primaryKey ? false : attribute.allowNull !== false;
        if (column.allowNull !== modelAllowsNull) mismatches.push(`${where}: table ${column.allowNull ? 'allows' : 'refuses'} NULL, model ${modelAllowsNull ? 'allows' : 'refuses'} it`);
        const expected = dbDefault(column.defaultValue);
        const stated = modelDefault(model, attribute);
        if (expected !== stated) mismatches.push(`${where}: table default ${expected ?? 'none'}, model default ${stated ?? 'none'}`);
      }
    }
    expect(mismatches).toEqual([]);
  });
});
