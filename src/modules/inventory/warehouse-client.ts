import axios, { type AxiosInstance } from 'axios';
import { pageBodySchema } from './schemas';

export type WarehouseErrorCode = 'TIMEOUT' | 'UNAVAILABLE' | 'NETWORK_ERROR' | 'BAD_STATUS' | 'BAD_BODY' | 'ABORTED' | 'NOT_CONFIGURED';

/** A page could not be read: the job fails and pg-boss retries it later. */
export class WarehouseError extends Error {
  constructor(
    readonly code: WarehouseErrorCode,
    message: string,
    readonly page?: number,
  ) {
    super(page === undefined ? message : `page ${page}: ${message}`);
    this.name = 'WarehouseError';
  }
}

export interface WarehousePage {
  /** Raw rows; each is validated by the sync so one bad row does not sink the page. */
  items: unknown[];
  nextPage: number | null;
}

/** Reads stock pages from the warehouse over HTTP (the mock, or anything with the same contract). */
export class WarehouseClient {
  private readonly http: AxiosInstance;
  private readonly configured: boolean;

  constructor(
    baseUrl: string | undefined,
    private readonly timeoutMs: number,
  ) {
    this.http = axios.create({
      baseURL: baseUrl,
      timeout: timeoutMs,
      validateStatus: () => true,
      responseType: 'json',
      // A body that is not JSON stays a string here and is refused below.
      transitional: { silentJSONParsing: true, forcedJSONParsing: true, clarifyTimeoutError: true },
    });
    this.configured = Boolean(baseUrl);
  }

  async page(page: number, pageSize: number, signal?: AbortSignal): Promise<WarehousePage> {
    if (!this.configured) throw new WarehouseError('NOT_CONFIGURED', 'no warehouse URL is configured (WAREHOUSE_URL)');
    let response;
    try {
      response = await this.http.get('/stock', { params: { page, pageSize }, signal });
    } catch (error) {
      const e = error as { code?: string; message?: string };
      if (signal?.aborted || e.code === 'ERR_CANCELED') throw new WarehouseError('ABORTED', 'the sync was interrupted (shutdown)', page);
      if (e.code === 'ETIMEDOUT' || e.code === 'ECONNABORTED') {
        throw new WarehouseError('TIMEOUT', `the warehouse did not answer within ${this.timeoutMs} ms`, page);
      }
      throw new WarehouseError('NETWORK_ERROR', `the warehouse is unreachable: ${e.code ?? e.message ?? 'network error'}`, page);
    }
    if (response.status === 429 || response.status >= 500) {
      throw new WarehouseError('UNAVAILABLE', `the warehouse answered ${response.status}`, page);
    }
    if (response.status !== 200) {
      throw new WarehouseError('BAD_STATUS', `the warehouse answered ${response.status}`, page);
    }
    const { value, error } = pageBodySchema(page).validate(response.data, { convert: false });
    if (error) {
      const shown = typeof response.data === 'string' ? 'a body that is not JSON' : `an unexpected body (${error.message})`;
      throw new WarehouseError('BAD_BODY', `the warehouse sent ${shown}`, page);
    }
    return { items: value.items, nextPage: value.nextPage };
  }
}
