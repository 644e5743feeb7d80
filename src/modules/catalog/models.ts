import {
  DataTypes,
  Model,
  Op,
  type CreationOptional,
  type InferAttributes,
  type InferCreationAttributes,
  type NonAttribute,
  type Sequelize,
} from 'sequelize';
import { TIMESTAMP_COLUMNS, tableOptions } from '../../db/model-definition';
import { isLowStock } from './data/stock-level';
import { SLUG_PATTERN } from './schemas';

/**
 * Units that can still be promised: on hand minus what active reservations hold. The one rule
 * (Product#available and inventory's stock steps use it); its SQL twin is data/stock-level.ts.
 */
export const availableOf = (p: { stockOnHand: number; stockReserved: number }): number => p.stockOnHand - p.stockReserved;

/**
 * The tables the catalog module owns: "Products", "Categories" and the link table
 * "Product_Categories". Each model matches its migration column for column. The stock
 * columns of "Products" are written by the inventory module (reserve / commit / release, sync).
 */

export class Product extends Model<
  InferAttributes<Product, { omit: 'categories' | 'links' }>,
  InferCreationAttributes<Product, { omit: 'categories' | 'links' }>
> {
  declare id: CreationOptional<number>;
  declare sku: string;
  declare name: string;
  declare priceCents: number;
  declare currency: string;
  declare stockOnHand: CreationOptional<number>;
  declare stockReserved: CreationOptional<number>;
  declare lowStockThreshold: CreationOptional<number>;
  /** Legacy free text, kept in step with the primary category's name by setProductCategories. */
  declare category: string | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

  /** Primary first when loaded with the `categories` include ordered by position. */
  declare categories?: NonAttribute<Category[]>;
  declare links?: NonAttribute<ProductCategory[]>;

  /**
   * Units that can still be reserved: the one definition every view uses. Its SQL twin, for
   * WHERE and ORDER BY, is in ./data/stock-level.ts.
   */
  get available(): NonAttribute<number> {
    return availableOf(this);
  }

  /** At or below its threshold: the admin stock view's "low", as the `lowStock` scope selects. */
  get isLow(): NonAttribute<boolean> {
    return this.available <= this.lowStockThreshold;
  }
}

export class Category extends Model<
  InferAttributes<Category, { omit: 'products' | 'links' }>,
  InferCreationAttributes<Category, { omit: 'products' | 'links' }>
> {
  declare id: CreationOptional<number>;
  declare name: string;
  declare slug: string;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

  declare products?: NonAttribute<Product[]>;
  declare links?: NonAttribute<ProductCategory[]>;
}

/** A product's membership of a category; position 0 is the primary one. */
export class ProductCategory extends Model<
  InferAttributes<ProductCategory, { omit: 'product' | 'category' }>,
  InferCreationAttributes<ProductCategory, { omit: 'product' | 'category' }>
> {
  declare productId: number;
  declare categoryId: number;
  declare position: CreationOptional<number>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

  declare product?: NonAttribute<Product>;
  declare category?: NonAttribute<Category>;
}

export function initCatalogModels(sequelize: Sequelize): void {
  Product.init(
    {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      sku: { type: DataTypes.STRING(64), allowNull: false, unique: true },
      name: { type: DataTypes.STRING(200), allowNull: false },
      priceCents: { type: DataTypes.INTEGER, allowNull: false, validate: { min: 0 } },
      currency: { type: DataTypes.CHAR(3), allowNull: false, validate: { is: /^[A-Z]{3}$/ } },
      stockOnHand: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0, validate: { min: 0 } },
      stockReserved: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0, validate: { min: 0 } },
      lowStockThreshold: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 5, validate: { min: 0 } },
      category: { type: DataTypes.STRING(100), allowNull: true },
      ...TIMESTAMP_COLUMNS,
    },
    tableOptions(sequelize, 'Product', 'Products', {
      scopes: {
        // The products the admin stock view flags: available at or below the threshold.
        lowStock: { where: { [Op.and]: [isLowStock()] } },
      },
    }),
  );

  Category.init(
    {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      // Unique regardless of case (a unique index on lower(name)).
      name: { type: DataTypes.STRING(100), allowNull: false, validate: { notEmpty: true } },
      slug: { type: DataTypes.STRING(100), allowNull: false, unique: true, validate: { is: SLUG_PATTERN } },
      ...TIMESTAMP_COLUMNS,
    },
    tableOptions(sequelize, 'Category', 'Categories'),
  );

  ProductCategory.init(
    {
      productId: { type: DataTypes.INTEGER, allowNull: false, primaryKey: true },
      categoryId: { type: DataTypes.INTEGER, allowNull: false, primaryKey: true },
      position: { type: DataTypes.SMALLINT, allowNull: false, defaultValue: 0, validate: { min: 0 } },
      ...TIMESTAMP_COLUMNS,
    },
    tableOptions(sequelize, 'ProductCategory', 'Product_Categories'),
  );

  Product.belongsToMany(Category, { through: ProductCategory, as: 'categories', foreignKey: 'productId', otherKey: 'categoryId' });
  Category.belongsToMany(Product, { through: ProductCategory, as: 'products', foreignKey: 'categoryId', otherKey: 'productId' });
  // The link rows themselves, for counts and position-ordered reads without joining the far side.
  Product.hasMany(ProductCategory, { as: 'links', foreignKey: 'productId' });
  Category.hasMany(ProductCategory, { as: 'links', foreignKey: 'categoryId' });
  ProductCategory.belongsTo(Product, { as: 'product', foreignKey: 'productId' });
  ProductCategory.belongsTo(Category, { as: 'category', foreignKey: 'categoryId' });
}
