/**
 * Why a charge attempt failed, as clients see it: a stable reason code and a plain message
 * written here. The provider's and the HTTP library's own text (hosts, addresses, ports, their
 * messages) is technical detail for operators: the attempt's log line and the admin-only
 * `errorDetail`, never a customer's answer.
 */

export const PAYMENT_FAILURE_MESSAGES = Object.freeze({
  PROVIDER_TIMEOUT: 'The payment provider did not answer in time.',
  PROVIDER_UNREACHABLE: 'The payment provider could not be reached.',
  PROVIDER_UNAVAILABLE: 'The payment provider is temporarily unavailable.',
  PROVIDER_RATE_LIMITED: 'The payment provider is busy and asked us to try later.',
  PROVIDER_ERROR: 'The payment provider gave an answer we could not use.',
  CARD_DECLINED: 'The card was declined.',
  REFUND_REFUSED: 'The payment provider refused the refund.',
  PAYMENT_ERROR: 'The payment could not be completed.',
} as const);

export type PaymentFailureCode = keyof typeof PAYMENT_FAILURE_MESSAGES;

export const isPaymentFailureCode = (code: unknown): code is PaymentFailureCode =>
  typeof code === 'string' && Object.prototype.hasOwnProperty.call(PAYMENT_FAILURE_MESSAGES, code);

/** What operators see of a failed call to the provider (the admin-only `errorDetail`, the attempt's log line). */
export interface PaymentErrorDetail {
  /** Which call failed. */
  call: 'charge' | 'charge lookup' | 'refund' | 'refund lookup';
  /** The HTTP client's error code when no answer came (ECONNREFUSED, ECONNABORTED, …). */
  clientCode?: string;
  /** The provider's HTTP status when it answered. */
  status?: number;
  /** The provider's own error code, when it gave one. */
  providerCode?: string;
  /** The library's or the provider's message, URLs redacted. */
  message: string;
  /** When the lookup that followed (what the provider holds under the key) failed too: why. */
  lookupFailed?: string;
}

/** The HTTP client's codes for a call that got no answer because nothing could be reached. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ERR_NETWORK', 'NETWORK_ERROR',
]);
// axios names its own timeout ECONNABORTED; 'TIMEOUT' is what rows before reason codes stored.
const TIMEOUT_CODES = new Set(['ECONNABORTED', 'ETIMEDOUT', 'ESOCKETTIMEDOUT', 'ERR_SOCKET_CONNECTION_TIMEOUT', 'TIMEOUT']);

/** The reason for a call that got no answer, from the HTTP client's error code. */
export function reasonOfClientCode(code: string | undefined): PaymentFailureCode {
  if (code && TIMEOUT_CODES.has(code)) return 'PROVIDER_TIMEOUT';
  if (code && UNREACHABLE_CODES.has(code)) return 'PROVIDER_UNREACHABLE';
  return 'PAYMENT_ERROR';
}

/** The reason for an answer that is neither a success nor a decline, from its HTTP status. */
export function reasonOfStatus(status: number): PaymentFailureCode {
  if (status === 429) return 'PROVIDER_RATE_LIMITED';
  if (status === 504) return 'PROVIDER_TIMEOUT';
  if (status >= 500) return 'PROVIDER_UNAVAILABLE';
  return 'PROVIDER_ERROR';
}

/**
 * The reason code of a stored attempt. Rows written before reason codes existed hold the library's
 * or the provider's code ("ECONNREFUSED", "HTTP_503", "TIMEOUT", "card_declined"): they are mapped
 * here, so what a customer sees is always derived from a code, never from stored text.
 */
export function paymentReasonOf(outcome: string, storedCode: string | null): PaymentFailureCode | null {
  if (outcome === 'succeeded') return null;
  if (outcome === 'declined') return 'CARD_DECLINED';
  if (isPaymentFailureCode(storedCode)) return storedCode;
  const http = /^HTTP_(\d{3})$/.exec(storedCode ?? '');
  if (http) return reasonOfStatus(Number(http[1]));
  return reasonOfClientCode(storedCode ?? undefined);
}

/** The plain message of a reason code. */
export const paymentFailureMessage = (code: PaymentFailureCode): string => PAYMENT_FAILURE_MESSAGES[code];
