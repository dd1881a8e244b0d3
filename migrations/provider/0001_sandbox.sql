-- The sandbox provider's own ledger: debits, captures, refunds, callbacks.
CREATE TABLE debits (
  merchant_payment_id text PRIMARY KEY,
  amount_minor        bigint NOT NULL CHECK (amount_minor > 0),
  currency            text NOT NULL,
  debit_calls         bigint NOT NULL DEFAULT 1,
  created_at          timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE captures (
  provider_txn_id     text PRIMARY KEY,
  merchant_payment_id text NOT NULL REFERENCES debits (merchant_payment_id),
  status              text NOT NULL CHECK (status IN ('SUCCEEDED', 'FAILED', 'REFUNDED')),
  amount_minor        bigint NOT NULL,
  currency            text NOT NULL,
  captured_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
  refunded_at         timestamptz
);
CREATE INDEX captures_payment_idx ON captures (merchant_payment_id);
CREATE INDEX captures_at_idx ON captures (captured_at);

CREATE TABLE refunds (
  refund_id       text PRIMARY KEY,
  idempotency_key text NOT NULL UNIQUE,
  provider_txn_id text NOT NULL UNIQUE REFERENCES captures (provider_txn_id),
  amount_minor    bigint NOT NULL,
  currency        text NOT NULL,
  refunded_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX refunds_at_idx ON refunds (refunded_at);

-- Callbacks to deliver (one row per notification; re-sends reuse event_id).
CREATE TABLE callbacks (
  event_id        text PRIMARY KEY,
  provider_txn_id text NOT NULL REFERENCES captures (provider_txn_id),
  copies          integer NOT NULL DEFAULT 1,
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  first_sent_at   timestamptz,
  acked_at        timestamptz,
  dropped         boolean NOT NULL DEFAULT false,
  last_result     text NOT NULL DEFAULT '',
  -- The last signed delivery, kept so the replay fault can resend it verbatim.
  last_nonce      text,
  last_timestamp_ms bigint,
  last_signature  text
);
CREATE INDEX callbacks_due_idx ON callbacks (next_attempt_at)
  WHERE acked_at IS NULL AND NOT dropped;

CREATE TABLE callback_counters (
  result text PRIMARY KEY,
  count  bigint NOT NULL DEFAULT 0
);

CREATE TABLE faults (
  id     integer PRIMARY KEY CHECK (id = 1),
  config jsonb NOT NULL
);
