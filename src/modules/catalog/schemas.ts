import Joi from 'joi';

/** Lower-case ASCII letters and digits in groups joined by single hyphens: "coffee", "coffee-tea". */
export const SLUG_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
export const MAX_SLUG_LENGTH = 100;
export const MAX_CATEGORY_NAME_LENGTH = 100;
export const MAX_CATEGORIES_PER_PRODUCT = 20;

/**
 * The slug a category name gets when none is given: the same rule as the backfill
 * migration (lower case, every run of characters other than a-z/0-9 becomes "-").
 * Returns '' when nothing is left (a name such as "茶"); the caller asks for a slug then.
 */
export function slugify(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_SLUG_LENGTH)
    .replace(/-+$/, '');
}

const slug = Joi.string().max(MAX_SLUG_LENGTH).pattern(SLUG_PATTERN).messages({
  'string.pattern.base': '{#label} must be a slug: lower-case letters and digits joined by single hyphens, such as coffee-beans',
});

export const skuSchema = Joi.string().min(1).max(64).required();

export interface ListProductsQuery {
  category?: string;
  sku?: string;
  q?: string;
  limit: number;
  cursor?: string;
}

export const listProductsSchema = Joi.object<ListProductsQuery>({
  category: slug.label('category'),
  sku: Joi.string().min(1).max(64),
  q: Joi.string().min(1).max(100).pattern(/\S/).messages({ 'string.pattern.base': 'q must contain something other than spaces' }),
  limit: Joi.number().integer().min(1).max(100).default(20),
  cursor: Joi.string().max(200),
}).unknown(false);

export interface CreateCategoryInput {
  name: string;
  slug?: string;
}

export const createCategorySchema = Joi.object<CreateCategoryInput>({
  name: Joi.string().min(1).max(MAX_CATEGORY_NAME_LENGTH).pattern(/^\S(?:.*\S)?$/s).required().messages({
    'string.pattern.base': 'name must not be blank or start or end with whitespace',
  }),
  slug: slug.label('slug'),
})
  .required()
  .unknown(false);

export interface SetProductCategoriesInput {
  categories: string[];
}

export const setProductCategoriesSchema = Joi.object<SetProductCategoriesInput>({
  categories: Joi.array()
    .items(slug.label('category slug'))
    .max(MAX_CATEGORIES_PER_PRODUCT)
    .unique()
    .required()
    .messages({ 'array.unique': 'the category {#value} appears twice; list each category once' }),
})
  .required()
  .unknown(false);
