import {
  DataTypes,
  Model,
  type CreationOptional,
  type InferAttributes,
  type InferCreationAttributes,
  type Sequelize,
} from 'sequelize';
import { TIMESTAMP_COLUMNS, tableOptions } from '../../db/model-definition';
import type { ClientRole } from './tokens';

const ROLES: ClientRole[] = ['customer', 'admin'];

/** A client of POST /auth/token. Only a scrypt hash of its secret is stored. */
export class ApiClient extends Model<InferAttributes<ApiClient>, InferCreationAttributes<ApiClient>> {
  declare id: CreationOptional<number>;
  declare clientId: string;
  declare secretHash: string;
  declare role: ClientRole;
  /** Set exactly for customer clients (a CHECK constraint). */
  declare customerId: string | null;
  declare name: string | null;
  declare disabledAt: Date | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export function initAuthModels(sequelize: Sequelize): void {
  ApiClient.init(
    {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      clientId: { type: DataTypes.STRING(64), allowNull: false, unique: true },
      secretHash: { type: DataTypes.STRING(255), allowNull: false },
      role: { type: DataTypes.STRING(16), allowNull: false, validate: { isIn: [ROLES] } },
      customerId: { type: DataTypes.STRING(64), allowNull: true },
      name: { type: DataTypes.STRING(200), allowNull: true },
      disabledAt: { type: DataTypes.DATE, allowNull: true },
      ...TIMESTAMP_COLUMNS,
    },
    tableOptions(sequelize, 'ApiClient', 'Api_Clients'),
  );
}
