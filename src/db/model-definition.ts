import { DataTypes, type Model, type ModelStatic, type Sequelize } from 'sequelize';

/**
 * What every model shares with its migration: created_at / updated_at are
 * `timestamptz NOT NULL DEFAULT now()`, column names are snake_case, and the table name is the
 * migration's. tests/integration/models-match-migrations.test.ts holds the models to this.
 */
export const TIMESTAMP_COLUMNS = Object.freeze({
  createdAt: { type: DataTypes.DATE, allowNull: false, defaultValue: DataTypes.NOW },
  updatedAt: { type: DataTypes.DATE, allowNull: false, defaultValue: DataTypes.NOW },
});

export function tableOptions<Extra extends object>(sequelize: Sequelize, modelName: string, tableName: string, extra?: Extra) {
  return { sequelize, modelName, tableName, underscored: true, timestamps: true, ...extra };
}

/**
 * The Sequelize instance registerModels (src/db/models.ts) bound `model` to, for the few
 * statements of a data/ folder that run outside any caller's transaction and take no ctx.
 */
export function registeredSequelize(model: ModelStatic<Model>): Sequelize {
  if (!model.sequelize) throw new Error(`${model.name} is not registered on a Sequelize instance: call registerModels(sequelize) first`);
  return model.sequelize;
}
