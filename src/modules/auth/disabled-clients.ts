import { performance } from 'node:perf_hooks';
import { Op } from 'sequelize';
import { ApiClient } from './models';

/**
 * The ids of disabled clients as this process last read them from "Api_Clients". The first check
 * after `refreshSeconds` re-reads them (one query, which every check arriving meanwhile waits
 * for), so a client disabled by `npm run clients:disable` is refused by every process within
 * that time, and an idle process (or a worker, which checks no tokens) queries nothing.
 * A failed read fails the checks waiting for it (503 when the database is down) and the next
 * check tries again: a process that cannot learn who is disabled does not guess.
 * Only ids known to be disabled are refused: a token whose client is not in the table (issued
 * by a test or a tool with the same key) is not this list's business.
 */
export class DisabledClients {
  private ids: ReadonlySet<string> = new Set();
  /** performance.now() when the current `ids` were asked for; -Infinity before the first read. */
  private readAt = -Infinity;
  private reading?: Promise<void>;
  private readonly refreshMs: number;

  constructor(refreshSeconds: number) {
    this.refreshMs = refreshSeconds * 1000;
  }

  async isDisabled(clientId: string): Promise<boolean> {
    if (performance.now() - this.readAt >= this.refreshMs) await this.refresh();
    return this.ids.has(clientId);
  }

  private refresh(): Promise<void> {
    this.reading ??= (async () => {
      const askedAt = performance.now();
      try {
        const rows = await ApiClient.findAll({ attributes: ['clientId'], where: { disabledAt: { [Op.ne]: null } }, raw: true });
        this.ids = new Set(rows.map((row) => row.clientId));
        this.readAt = askedAt;
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }
}
