import CircuitBreaker from 'opossum';
import { metrics } from '../../observability/metrics';
import type { Logger } from '../../shared/logger';

/**
 * The circuit breaker around the payment provider (opossum). It counts the calls of the last
 * `windowSeconds`; when at least `volumeThreshold` were made and more than `errorThresholdPercent`
 * of them failed (timeouts, network errors, 5xx, 429), it opens: no call reaches the provider,
 * and charge and refund jobs are put off instead of spending their attempts (see the order flow).
 * After `resetSeconds` it half-opens: one call goes through as a probe, and its success closes
 * the circuit, its failure opens it again. An answer the provider gave on purpose (a decline, a
 * refused refund) is not a failure.
 *
 * One circuit per process: each worker process learns of an outage from its own calls and probes
 * on its own, so N worker processes make up to N probes per reset period. Each change is logged,
 * counted in the metrics and reported to `onChange` (the "Payment_Circuits" table, which the
 * dashboard reads).
 */

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitSettings {
  enabled: boolean;
  errorThresholdPercent: number;
  volumeThreshold: number;
  windowSeconds: number;
  resetSeconds: number;
}

export interface CircuitChange {
  state: CircuitState;
  at: Date;
  /** When an open circuit lets its next probe through. */
  nextProbeAt: Date | null;
}

/** A call the open circuit refused: nothing reached the provider. */
export class ProviderCircuitOpenError extends Error {
  override readonly name = 'ProviderCircuitOpenError';
  constructor(readonly nextProbeAt: Date | null) {
    super('the payment provider circuit is open: call not made');
  }
}

/** A half-open circuit's probe, once handed out, is someone's for this long (the claim before the call). */
const PROBE_HOLD_MS = 5_000;

type Call = () => Promise<unknown>;

export class ProviderCircuit {
  private readonly breaker: CircuitBreaker<[Call], unknown> | null;
  private openedAt: number | null = null;
  private probeHeldUntil = 0;
  private reported = false;

  constructor(
    readonly settings: CircuitSettings,
    /** Whether an error is the provider's deliberate answer (a decline): not an outage. */
    isAnswer: (error: unknown) => boolean,
    private readonly logger: Logger,
    private readonly onChange?: (change: CircuitChange) => void,
  ) {
    if (!settings.enabled) {
      this.breaker = null;
      return;
    }
    this.breaker = new CircuitBreaker((call: Call) => call(), {
      name: 'payment-provider',
      // The HTTP client's own timeout ends each call; a second timer here would abandon calls still in flight.
      timeout: false,
      errorThresholdPercentage: settings.errorThresholdPercent,
      volumeThreshold: settings.volumeThreshold,
      rollingCountTimeout: settings.windowSeconds * 1000,
      rollingCountBuckets: 10,
      // Latency percentiles (every call's time kept, and sorted whenever opossum reads its counts,
      // which it does on each failure) and periodic snapshots are opossum's defaults we never read:
      // under load they were about 15 % of the job thread's profile.
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      resetTimeout: settings.resetSeconds * 1000,
      errorFilter: (error: unknown) => isAnswer(error),
    });
    this.breaker.on('open', () => {
      this.openedAt = Date.now();
      this.changed('open');
    });
    this.breaker.on('halfOpen', () => {
      this.probeHeldUntil = 0;
      this.changed('half_open');
    });
    this.breaker.on('close', () => {
      this.openedAt = null;
      this.changed('closed');
    });
  }

  get state(): CircuitState {
    if (!this.breaker || this.breaker.closed) return 'closed';
    return this.breaker.opened ? 'open' : 'half_open';
  }

  /** When an open circuit lets its next probe through; null when it is not open. */
  get nextProbeAt(): Date | null {
    return this.state === 'open' && this.openedAt !== null ? new Date(this.openedAt + this.settings.resetSeconds * 1000) : null;
  }

  /**
   * Whether a call made now would reach the provider: 'call' while closed, 'probe' for the one
   * caller a half-open circuit lets through (so the jobs that come back together do not all claim
   * their orders for a call only one of them may make), null while it lets nothing through.
   */
  admission(): 'call' | 'probe' | null {
    if (!this.breaker || this.breaker.closed) return 'call';
    if (!this.breaker.halfOpen || !this.breaker.pendingClose || Date.now() < this.probeHeldUntil) return null;
    this.probeHeldUntil = Date.now() + PROBE_HOLD_MS;
    return 'probe';
  }

  /** Makes a call through the circuit; rejects with ProviderCircuitOpenError when it is open. */
  async call<T>(call: () => Promise<T>): Promise<T> {
    if (!this.breaker) return call();
    if (!this.reported) this.report(this.state);
    try {
      return (await this.breaker.fire(call)) as T;
    } catch (error) {
      if ((error as { code?: unknown })?.code === 'EOPENBREAKER') throw new ProviderCircuitOpenError(this.nextProbeAt);
      throw error;
    }
  }

  /**
   * A lookup (what the provider holds under a key): refused while the circuit is open, but not
   * counted. The circuit judges the provider by the calls that move money; a lookup answered
   * during an outage of the charge endpoint must not count as a success that keeps it closed.
   */
  async lookup<T>(call: () => Promise<T>): Promise<T> {
    if (this.state === 'open') throw new ProviderCircuitOpenError(this.nextProbeAt);
    return call();
  }

  /** Stops the circuit's timers (on shutdown). */
  shutdown(): void {
    this.breaker?.shutdown();
  }

  private changed(state: CircuitState): void {
    this.report(state);
    metrics.paymentCircuitChanges.inc({ state });
    const fields = { circuit: 'payment-provider', state, nextProbeAt: this.nextProbeAt?.toISOString() };
    if (state === 'open') this.logger.warn(fields, 'payment provider circuit opened: charges and refunds wait, no call is made until a probe succeeds');
    else if (state === 'half_open') this.logger.info(fields, 'payment provider circuit half-open: the next call probes the provider');
    else this.logger.info(fields, 'payment provider circuit closed: calls go through again');
    try {
      this.onChange?.({ state, at: new Date(), nextProbeAt: this.nextProbeAt });
    } catch (error) {
      this.logger.warn({ err: error }, 'could not report the payment provider circuit state');
    }
  }

  /** The gauge shows this process's state once it has made a call (an API thread that never calls adds nothing). */
  private report(state: CircuitState): void {
    this.reported = true;
    for (const s of ['closed', 'open', 'half_open'] as const) metrics.paymentCircuitState.set({ state: s }, s === state ? 1 : 0);
  }
}
