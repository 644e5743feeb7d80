import { createHmac, randomBytes } from 'node:crypto';

/** A new endpoint's signing secret: shown once, when the endpoint is registered. */
export const newSigningSecret = () => `whsec_${randomBytes(24).toString('base64url')}`;

/**
 * The Orderloop-Signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.
 * The timestamp is signed with the body, so a receiver can refuse a replay older than a few
 * minutes (README: Verifying a webhook).
 */
export function signatureHeader(secret: string, rawBody: string, nowSeconds = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac('sha256', secret).update(`${nowSeconds}.${rawBody}`).digest('hex');
  return `t=${nowSeconds},v1=${v1}`;
}
