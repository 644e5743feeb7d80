import { SignJWT, jwtVerify, errors } from 'jose';
import { DisabledClients } from './disabled-clients';

export type ClientRole = 'customer' | 'admin';

export interface Principal {
  clientId: string;
  role: ClientRole;
  customerId: string | null;
}

const ISSUER = 'orderloop';
const AUDIENCE = 'orderloop-api';

/** CLIENT_STATUS_REFRESH_S's default, for a TokenService built without the service's configuration. */
const DEFAULT_CLIENT_STATUS_REFRESH_S = 10;

export class TokenService {
  private readonly key: Uint8Array;
  private readonly disabledClients: DisabledClients;

  /** `clientStatusRefreshSeconds`: how stale this process's list of disabled clients may be (config.auth). */
  constructor(secret: string, readonly ttlSeconds: number, options: { clientStatusRefreshSeconds?: number } = {}) {
    this.key = new TextEncoder().encode(secret);
    this.disabledClients = new DisabledClients(options.clientStatusRefreshSeconds ?? DEFAULT_CLIENT_STATUS_REFRESH_S);
  }

  async issue(principal: Principal): Promise<string> {
    return new SignJWT({ role: principal.role, customerId: principal.customerId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(principal.clientId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.key);
  }

  /**
   * The principal of a valid token; `expired` or `invalid` otherwise, and `disabled` when its
   * client has been disabled (within clientStatusRefreshSeconds). Rejects when the list of
   * disabled clients cannot be read.
   */
  async verify(token: string): Promise<Principal | 'expired' | 'invalid' | 'disabled'> {
    const principal = await this.principalOf(token);
    if (typeof principal === 'string') return principal;
    return (await this.disabledClients.isDisabled(principal.clientId)) ? 'disabled' : principal;
  }

  private async principalOf(token: string): Promise<Principal | 'expired' | 'invalid'> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE });
      const role = payload.role;
      if (typeof payload.sub !== 'string' || (role !== 'customer' && role !== 'admin')) return 'invalid';
      const customerId = typeof payload.customerId === 'string' ? payload.customerId : null;
      if (role === 'customer' && !customerId) return 'invalid';
      return { clientId: payload.sub, role, customerId };
    } catch (error) {
      return error instanceof errors.JWTExpired ? 'expired' : 'invalid';
    }
  }
}
