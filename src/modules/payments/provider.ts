import os from 'node:os';
import type { AppConfig } from '../../config';
import type { Logger } from '../../shared/logger';
import { HttpPaymentAdapter, isProviderAnswer } from './adapter';
import { ProviderCircuit, type CircuitChange, type CircuitState } from './circuit';
import { PaymentCircuit } from './models';

/** This process in "Payment_Circuits". */
const PROCESS_ID = `${os.hostname()}:${process.pid}`;

/**
 * The payment provider as the service talks to it: the HTTP adapter behind this process's
 * circuit breaker, whose every change is written to "Payment_Circuits" (one row per process) so
 * the dashboard sees it whichever process holds it.
 */
export function createPaymentAdapter(config: Pick<AppConfig, 'payments'>, providerUrl: string, logger: Logger): HttpPaymentAdapter {
  const circuit = new ProviderCircuit(config.payments.circuit, isProviderAnswer, logger, (change) => {
    recordCircuitChange(change).catch((error: unknown) => logger.warn({ err: error, state: change.state }, 'could not record the payment provider circuit state'));
  });
  return new HttpPaymentAdapter(providerUrl, config.payments.timeoutMs, circuit);
}

async function recordCircuitChange(change: CircuitChange): Promise<void> {
  await PaymentCircuit.upsert({ process: PROCESS_ID, state: change.state, changedAt: change.at, nextProbeAt: change.nextProbeAt });
}

export interface CircuitOverview {
  /** The worst state among the processes heard from lately (open, then half_open, then closed). */
  state: CircuitState;
  processes: Array<{ process: string; state: CircuitState; changedAt: string; nextProbeAt: string | null }>;
  settings: AppConfig['payments']['circuit'];
}

/**
 * Rows older than this are left out: an open circuit rewrites its row at every probe (each
 * reset period), so an old one belongs to a process that is gone.
 */
const FORGET_AFTER_MS = 60 * 60 * 1000;

/** The circuit breakers of the worker processes, for the dashboard (GET /admin/overview). */
export async function circuitOverview(config: Pick<AppConfig, 'payments'>): Promise<CircuitOverview> {
  const rows = await PaymentCircuit.findAll({ order: [['updatedAt', 'DESC']], limit: 50 });
  const now = Date.now();
  const staleOpenMs = 3 * config.payments.circuit.resetSeconds * 1000;
  const processes = rows
    .filter((r) => now - new Date(r.updatedAt).getTime() < FORGET_AFTER_MS)
    // An open circuit that has not probed for three reset periods belongs to a process that died.
    .filter((r) => r.state !== 'open' || now - new Date(r.updatedAt).getTime() < staleOpenMs)
    .map((r) => ({ process: r.process, state: r.state, changedAt: new Date(r.changedAt).toISOString(), nextProbeAt: r.nextProbeAt ? new Date(r.nextProbeAt).toISOString() : null }));
  const state: CircuitState = processes.some((p) => p.state === 'open') ? 'open' : processes.some((p) => p.state === 'half_open') ? 'half_open' : 'closed';
  return { state, processes, settings: config.payments.circuit };
}
