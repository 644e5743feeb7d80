import type { Client } from 'pg';
import { eventViolations, invariantViolations, webhookViolations } from '../tests/helpers/invariants';

/** Shown in full up to this many; a broken invariant usually breaks it for many orders at once. */
const VIOLATIONS_SHOWN = 20;

/**
 * The invariants of DEVELOPERS.md, of the order events and of the webhook deliveries (the tests'
 * own checks, read-only) over the whole bench database; throws after printing the violations, so
 * a benchmark that broke them never reports figures.
 */
export async function assertInvariants(db: Client, scenario: string): Promise<void> {
  const t = { query: async <T extends object>(sql: string, bind: unknown[] = []) => (await db.query(sql, bind)).rows as T[] };
  const violations = [...(await invariantViolations(t)), ...(await eventViolations(t)), ...(await webhookViolations(t))];
  if (violations.length === 0) {
    process.stdout.write(`  invariants hold after ${scenario}\n`);
    return;
  }
  console.error(`\nINVARIANTS BROKEN after ${scenario}: ${violations.length} violation(s)`);
  for (const v of violations.slice(0, VIOLATIONS_SHOWN)) console.error(`  - ${v}`);
  if (violations.length > VIOLATIONS_SHOWN) console.error(`  … and ${violations.length - VIOLATIONS_SHOWN} more`);
  throw new Error(`invariants broken after ${scenario} (${violations.length} violations)`);
}
