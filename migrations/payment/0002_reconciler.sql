-- What the reconciler needs: when to look at a pending payment again, when an
-- order was confirmed, refunds of extra captures, statement cursors.
ALTER TABLE payments
  ADD COLUMN reconcile_after timestamptz,
  ADD COLUMN reconcile_attempts integer NOT NULL DEFAULT 0,
  -- Set once the order service has seen this payment's success (relay or
  -- reconciler); a SUCCEEDED payment without it may be paid-but-pending.
  ADD COLUMN order_confirmed_at timestamptz;
CREATE INDEX payments_unconfirmed_idx ON payments (updated_at)
  WHERE status = 'SUCCEEDED' AND order_confirmed_at IS NULL;

-- Captures refunded because they were extra (double charge, second payment,
-- paid after cancel). One row per capture: a capture is refunded at most once.
CREATE TABLE capture_refunds (
  provider_txn_id text PRIMARY KEY,
  payment_id      text NOT NULL REFERENCES payments (payment_id),
  order_id        text NOT NULL,
  refund_id       text NOT NULL,
  amount_minor    bigint NOT NULL,
  currency        text NOT NULL,
  reason          text NOT NULL,
  refunded_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX capture_refunds_payment_idx ON capture_refunds (payment_id);

-- Capture-level anomalies are recorded once per capture, whoever finds them.
CREATE UNIQUE INDEX anomalies_once_per_capture ON anomalies (kind, provider_txn_id)
  WHERE provider_txn_id IS NOT NULL AND kind IN ('duplicate_capture', 'late_success',
    'capture_unknown_payment', 'capture_missing_on_our_side', 'settlement_amount_mismatch',
    'refund_missing_on_our_side');
ALTER TABLE anomalies
  ADD COLUMN attempts integer NOT NULL DEFAULT 0,
  ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  ADD COLUMN resolution text NOT NULL DEFAULT '';
CREATE INDEX anomalies_due_idx ON anomalies (next_attempt_at) WHERE status = 'OPEN';

-- How far each reconciliation job has read (e.g. the settlement statement).
CREATE TABLE reconciler_cursors (
  job        text PRIMARY KEY,
  cursor_at  timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- "Has this payment's success been delivered?" is asked per payment.
CREATE INDEX outbox_payment_idx ON outbox (payment_id);

-- Dead letters, newest first: OutboxAdmin.ListDeadLetters pages through it and
-- the relay's backlog gauge counts it every few seconds, without scanning an
-- outbox that only grows.
CREATE INDEX outbox_dead_letter_idx ON outbox (dead_lettered_at DESC, event_id DESC)
  WHERE dead_lettered_at IS NOT NULL;
