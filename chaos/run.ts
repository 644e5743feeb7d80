import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir } from './cluster';
import { Report } from './checks';
import type { Scenario } from './scenarios/common';
import { killWorker } from './scenarios/kill-worker';
import { databaseOutage } from './scenarios/database-outage';
import { paymentOutage } from './scenarios/payment-outage';
import { contention } from './scenarios/contention';
import { warehouseFaults } from './scenarios/warehouse-faults';
import { fuzzIntake } from './scenarios/fuzz';
import { lateCharge } from './scenarios/late-charge';
import { webhooks } from './scenarios/webhooks';

/**
 * `npm run test:chaos`: each scenario on its own database, ports and processes, one after the
 * other; prints each scenario's figures and checks, then a summary. Exit code 1 when any check
 * failed. `node dist/chaos/run.js kill-worker contention` runs only those; CHAOS_KEEP=1 keeps
 * the logs and data of passing scenarios too (failing ones are always kept).
 */

const SCENARIOS: Scenario[] = [killWorker, databaseOutage, paymentOutage, contention, warehouseFaults, fuzzIntake, lateCharge, webhooks];

const SUMMARY_FIGURES = ['orders sent', 'accepted (202)', 'completed', 'failed', 'charges at the provider', 'units'];

function stamp(): string {
  return new Date().toISOString().slice(11, 19);
}

async function main(): Promise<number> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((w) => !SCENARIOS.some((s) => s.id === w));
  if (unknown.length) {
    process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.id).join(', ')}\n`);
    return 2;
  }
  const selected = SCENARIOS.filter((s) => !wanted.length || wanted.includes(s.id));
  const runDir = makeTempDir('orderloop-chaos-');
  const keepAll = process.env.CHAOS_KEEP === '1';
  process.stdout.write(`orderloop chaos run: ${selected.length} scenario(s), logs under ${runDir}\n`);

  const started = Date.now();
  const results: Array<{ index: number; scenario: Scenario; report: Report; ms: number; dir: string }> = [];
  for (const scenario of selected) {
    const index = SCENARIOS.indexOf(scenario) + 1;
    const dir = path.join(runDir, `${index}-${scenario.id}`);
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    const report = new Report(scenario.id, scenario.title);
    process.stdout.write(`\n=== ${index}. ${scenario.id}: ${scenario.title}\n`);
    const t0 = Date.now();
    try {
      await scenario.run({ dir, report, log: (m) => process.stdout.write(`  [${stamp()}] ${m}\n`) });
    } catch (error) {
      report.check('scenario ran to the end', false, (error as Error).stack ?? String(error));
    }
    const ms = Date.now() - t0;
    results.push({ index, scenario, report, ms, dir });
    printReport(index, report, ms, dir);
    if (report.passed && !keepAll) fs.rmSync(dir, { recursive: true, force: true });
  }

  const total = Date.now() - started;
  printSummary(results, total);
  const failed = results.filter((r) => !r.report.passed);
  if (!failed.length && !keepAll) fs.rmSync(runDir, { recursive: true, force: true });
  process.stdout.write(failed.length
    ? `\nCHAOS FAILED: ${failed.map((f) => f.scenario.id).join(', ')} (logs: ${runDir})\n`
    : `\nchaos: all ${results.length} scenario(s) passed in ${(total / 1000).toFixed(0)} s\n`);
  return failed.length ? 1 : 0;
}

function printReport(index: number, report: Report, ms: number, dir: string): void {
  const out: string[] = [];
  out.push(`--- ${index}. ${report.id}: ${report.passed ? 'PASS' : 'FAIL'} in ${(ms / 1000).toFixed(1)} s`);
  const width = Math.max(...report.figures.map(([n]) => n.length), 10);
  for (const [name, value] of report.figures) out.push(`    ${name.padEnd(width)}  ${value}`);
  for (const c of report.checks) {
    const limit = c.ok ? 300 : 4000;
    const detail = c.detail ? ` (${c.detail.length > limit ? `${c.detail.slice(0, limit)}…` : c.detail})` : '';
    out.push(`  ${c.ok ? '[ok]  ' : '[FAIL]'} ${c.name}${detail}`);
  }
  if (!report.passed) out.push(`  logs: ${dir}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

function printSummary(results: Array<{ index: number; scenario: Scenario; report: Report; ms: number }>, totalMs: number): void {
  const header = ['#', 'scenario', 'result', 'time', ...SUMMARY_FIGURES];
  const table = results.map((r) => [
    String(r.index),
    r.scenario.id,
    r.report.passed ? 'PASS' : `FAIL (${r.report.checks.filter((c) => !c.ok).length})`,
    `${(r.ms / 1000).toFixed(0)} s`,
    ...SUMMARY_FIGURES.map((f) => String(r.report.figures.find(([n]) => n === f)?.[1] ?? '-')),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  process.stdout.write(`\n=== Summary (total ${(totalMs / 1000).toFixed(0)} s)\n`);
  process.stdout.write(`${line(header)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
  for (const row of table) process.stdout.write(`${line(row)}\n`);
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`chaos run crashed: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  },
);
