/**
 * The payments module's door: the provider adapter and the "Payments" table, which only this
 * module writes (the order flow records its attempts through recordPaymentAttempt).
 */
export * from './adapter';
export { Payment, PAYMENT_OUTCOMES, initPaymentModels, type PaymentOutcome } from './models';
export { recordPaymentAttempt, recordPaymentAttempts, paymentView, PAYMENT_VIEW_ATTRIBUTES, type PaymentAttempt, type PaymentAudience, type PaymentView } from './attempts';
export {
  PAYMENT_FAILURE_MESSAGES,
  isPaymentFailureCode,
  paymentFailureMessage,
  paymentReasonOf,
  type PaymentErrorDetail,
  type PaymentFailureCode,
} from './failures';
