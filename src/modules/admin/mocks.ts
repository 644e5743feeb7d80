import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import { AppError } from '../../shared/errors';
import { redactUrl, redactUrlsIn } from '../../shared/redact-url';

/**
 * Proxies the dashboard's demo controls to the mock payment provider and the mock warehouse
 * this service talks to. The base URLs come from the service's own configuration, never from
 * the request, so nothing here can be pointed at another host. A URL shown in an answer is
 * redacted: a configured URL may carry credentials.
 */
export class MockProxy {
  private readonly http: AxiosInstance;

  constructor(
    private readonly name: string,
    private readonly baseUrl: string | undefined,
    private readonly envVar: string,
    timeoutMs = 3_000,
  ) {
    this.http = axios.create({ baseURL: baseUrl, timeout: timeoutMs, validateStatus: () => true });
  }

  /** The base URL as an answer may show it. */
  get url(): string | undefined {
    return redactUrl(this.baseUrl);
  }

  async request<T>(method: 'GET' | 'PUT', path: string, body?: unknown): Promise<T> {
    if (!this.baseUrl) {
      throw new AppError('NOT_FOUND', `This process has no ${this.name} to control (${this.envVar} is unset and no mock runs here)`);
    }
    let response: AxiosResponse;
    try {
      response = await this.http.request({ method, url: path, data: body });
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'NETWORK_ERROR';
      throw new AppError('SERVICE_UNAVAILABLE', `The ${this.name} did not answer (${code})`, { upstream: this.url }, { 'Retry-After': '5' });
    }
    if (response.status >= 200 && response.status < 300) return response.data as T;
    const said = (response.data as { error?: { message?: unknown } } | undefined)?.error?.message;
    const upstream = typeof said === 'string' ? redactUrlsIn(said) : undefined;
    if (response.status === 404) {
      throw new AppError('NOT_FOUND', `The ${this.name} has no ${method} ${path.split('?')[0]}${upstream ? `: ${upstream}` : ''} (is it the mock?)`);
    }
    if (response.status >= 400 && response.status < 500) {
      throw new AppError('VALIDATION_FAILED', `The ${this.name} refused the change${upstream ? `: ${upstream}` : ''}`, [{ path: '(body)', message: upstream ?? `HTTP ${response.status}` }]);
    }
    throw new AppError('SERVICE_UNAVAILABLE', `The ${this.name} answered HTTP ${response.status}`, { upstream: this.url }, { 'Retry-After': '5' });
  }
}
