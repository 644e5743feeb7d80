/**
 * The payments module's door: the provider adapter behind its circuit breaker, the "Payments"
 * table (the order flow records its attempts through recordPaymentAttempt), the "Refunds" table
 * and the circuit breakers' "Payment_Circuits"; only this module writes them.
 */
export * from './adapter';
export { ProviderCircuit, ProviderCircuitOpenError, type CircuitState, type CircuitSettings } from './circuit';
export { createPaymentAdapter, circuitOverview, type CircuitOverview } from './provider';
export { Payment, Refund, PaymentCircuit, PAYMENT_OUTCOMES, REFUND_REASONS, REFUND_STATUSES, initPaymentModels, type PaymentOutcome, type RefundReason, type RefundStatus } from './models';
export { recordPaymentAttempt, recordPaymentAttempts, paymentView, PAYMENT_VIEW_ATTRIBUTES, type PaymentAttempt, type PaymentAudience, type PaymentView } from './attempts';
export {
  recordRefundRequest,
  beginRefundAttempt,
  giveBackRefundAttempt,
  settleRefund,
  recordRefundError,
  succeededChargeOf,
  refundOf,
  refundView,
  refundCounts,
  REFUND_VIEW_ATTRIBUTES,
  type RefundAttempt,
  type RefundSettlement,
  type RefundToRequest,
  type RefundView,
} from './refunds';
export {
  PAYMENT_FAILURE_MESSAGES,
  isPaymentFailureCode,
  paymentFailureMessage,
  paymentReasonOf,
  type PaymentErrorDetail,
  type PaymentFailureCode,
} from './failures';
