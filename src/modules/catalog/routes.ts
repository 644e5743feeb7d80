import { Router } from 'express';
import type { AppContext } from '../../context';
import { methodNotAllowed, validate } from '../../shared/validate';
import { createCategorySchema, listProductsSchema, setProductCategoriesSchema, skuSchema } from './schemas';
import { CatalogService } from './service';

export function catalogRouter(ctx: AppContext): Router {
  const router = Router();
  const catalog = new CatalogService(ctx);

  router
    .route('/products')
    .get(async (req, res) => {
      const query = validate(listProductsSchema, req.query, { convert: true });
      res.json(await catalog.listProducts(query));
    })
    .all(methodNotAllowed);

  router
    .route('/products/:sku')
    .get(async (req, res) => {
      const sku = validate(skuSchema.label('sku'), req.params.sku);
      res.json({ product: await catalog.getProduct(sku) });
    })
    .all(methodNotAllowed);

  router
    .route('/products/:sku/categories')
    .put(async (req, res) => {
      const sku = validate(skuSchema.label('sku'), req.params.sku);
      const input = validate(setProductCategoriesSchema, req.body);
      res.json({ product: await catalog.setProductCategories(sku, input) });
    })
    .all(methodNotAllowed);

  router
    .route('/categories')
    .get(async (_req, res) => {
      res.json({ categories: await catalog.listCategories() });
    })
    .post(async (req, res) => {
      const input = validate(createCategorySchema, req.body);
      res.status(201).json({ category: await catalog.createCategory(input) });
    })
    .all(methodNotAllowed);

  return router;
}
