import { SignJWT, jwtVerify, errors } from 'jose';

export type ClientRole = 'customer' | 'admin';

export interface Principal {
  clientId: string;
  role: ClientRole;
  customerId: string | null;
}

const ISSUER = 'orderloop';
const AUDIENCE = 'orderloop-api';

export class TokenService {
  private readonly key: Uint8Array;

  constructor(secret: string, readonly ttlSeconds: number) {
    this.key = new TextEncoder().encode(secret);
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

  /** The principal of a valid token; `expired` or `invalid` otherwise. */
  async verify(token: string): Promise<Principal | 'expired' | 'invalid'> {
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
