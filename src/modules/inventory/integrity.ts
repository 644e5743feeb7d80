import type { Sequelize, Transaction } from 'sequelize';
import type { Logger } from '../../shared/logger';
import { integrityLockAllProducts } from './data/integrity-lock-all-products';
import { integrityRecomputeReserved } from './data/integrity-recompute-reserved';
import { integrityRestoreOnHand } from './data/integrity-restore-on-hand';
import { integrityStockReport } from './data/integrity-stock-report';

/**
 * The stock side of `npm run inventory:check`: stock_reserved against the active reservations,
 * and stock_on_hand against stock_reserved. Orders that still hold reservations, or sit open
 * too long, are the orders module's to find and repair (checkOrderIntegrity); the CLI runs both.
 */

/** One broken invariant, as `npm run inventory:check` reports it. */
export interface IntegrityProblem<Kind extends string = string> {
  kind: Kind;
  message: string;
  details: Record<string, unknown>;
  fixable: boolean;
}

export interface IntegrityReport<Kind extends string = string> {
  problems: IntegrityProblem<Kind>[];
  repairs: string[];
}

export type StockProblemKind = 'RESERVED_MISMATCH' | 'ON_HAND_BELOW_RESERVED';

/**
 * Finds every broken stock invariant; with `fix`, repairs them in one transaction, every product
 * locked in id order like every other stock change: stock_reserved is recomputed from the active
 * reservations, then `releaseWithin` (the orders module releasing what closed orders still hold,
 * through its own release path) runs in the same transaction, and stock_on_hand that the
 * recompute raised only to make room for those reservations is put back.
 */
export async function checkInventory(
  sequelize: Sequelize,
  options: { fix: boolean; logger?: Logger; releaseWithin?: (transaction: Transaction) => Promise<string[]> },
): Promise<IntegrityReport<StockProblemKind>> {
  const problems = await findStockProblems(sequelize);
  const repairs: string[] = [];
  if (!options.fix || (!problems.some((p) => p.fixable) && !options.releaseWithin)) return { problems, repairs };

  await sequelize.transaction(async (transaction) => {
    await integrityLockAllProducts.rows(sequelize, [], transaction);
    const recomputed = await integrityRecomputeReserved.rows(sequelize, [], transaction);
    for (const f of recomputed) {
      const line = `set ${f.sku} stock_reserved ${f.before} -> ${f.after} (sum of its active reservations)`;
      repairs.push(line);
      options.logger?.warn({ sku: f.sku, before: f.before, after: f.after }, line);
    }
    if (!options.releaseWithin) return;
    repairs.push(...(await options.releaseWithin(transaction)));
    const raised = recomputed.filter((f) => f.after > f.onHandBefore);
    if (raised.length) await integrityRestoreOnHand.rows(sequelize, [raised.map((f) => f.id), raised.map((f) => f.onHandBefore)], transaction);
  });
  return { problems, repairs };
}

async function findStockProblems(sequelize: Sequelize): Promise<IntegrityProblem<StockProblemKind>[]> {
  const problems: IntegrityProblem<StockProblemKind>[] = [];
  for (const m of await integrityStockReport.rows(sequelize, [])) {
    if (m.stockReserved !== m.activeReserved) {
      problems.push({
        kind: 'RESERVED_MISMATCH',
        message: `${m.sku}: stock_reserved is ${m.stockReserved} but its active reservations hold ${m.activeReserved}`,
        details: { sku: m.sku, stockReserved: m.stockReserved, activeReservations: m.activeReserved },
        fixable: true,
      });
    }
    if (m.stockOnHand < m.stockReserved) {
      problems.push({
        kind: 'ON_HAND_BELOW_RESERVED',
        message: `${m.sku}: stock_on_hand ${m.stockOnHand} is below stock_reserved ${m.stockReserved}`,
        details: { sku: m.sku, stockOnHand: m.stockOnHand, stockReserved: m.stockReserved },
        fixable: true,
      });
    }
  }
  return problems;
}
