-- Payments, their history, idempotency keys, provider callbacks, the
-- transactional outbox and the anomalies the reconciler works on.
CREATE TABLE payments (
  payment_id      text PRIMARY KEY,
  order_id        text NOT NULL,
  amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
  currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  status          text NOT NULL CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED', 'REFUNDED')),
  provider        text NOT NULL,
  provider_txn_id text,
  failure_reason  text NOT NULL DEFAULT '',
  -- Strength of the evidence behind the current status:
  -- 0 none, 1 callback, 2 query, 3 settlement statement.
  evidence_rank   smallint NOT NULL DEFAULT 0,
  -- True while this payment blocks new attempts for its order. Set on
  -- creation, cleared when the payment fails; a late success never sets it
  -- again, so the index below blocks new attempts but never evidence.
  live            boolean NOT NULL DEFAULT true,
  late_success    boolean NOT NULL DEFAULT false,
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK (NOT live OR status IN ('PENDING', 'SUCCEEDED', 'REFUNDED'))
);
-- At most one live payment per order.
CREATE UNIQUE INDEX payments_one_live_per_order ON payments (order_id) WHERE live;
CREATE INDEX payments_order_idx ON payments (order_id, created_at);
CREATE INDEX payments_pending_idx ON payments (created_at) WHERE status = 'PENDING';

-- Every change of a payment, with the evidence that caused it.
CREATE TABLE payment_history (
  entry_id    bigserial PRIMARY KEY,
  payment_id  text NOT NULL REFERENCES payments (payment_id),
  at          timestamptz NOT NULL DEFAULT clock_timestamp(),
  source      text NOT NULL,
  old_status  text,
  new_status  text,
  event_id    text,
  detail      text NOT NULL DEFAULT ''
);
CREATE INDEX payment_history_payment_idx ON payment_history (payment_id, entry_id);

-- Idempotency keys of CreatePayment and RefundPayment: the truth (Redis holds
-- a copy). Kept at least as long as the provider's longest retry window.
CREATE TABLE idempotency_keys (
  scope        text NOT NULL,
  key          text NOT NULL,
  fingerprint  text NOT NULL,
  state        text NOT NULL CHECK (state IN ('IN_FLIGHT', 'DONE')),
  payment_id   text,
  response     bytea,
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  locked_until timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

-- Provider callbacks accepted, keyed by the provider's event id.
CREATE TABLE provider_callbacks (
  provider        text NOT NULL,
  event_id        text NOT NULL,
  payment_id      text NOT NULL,
  provider_txn_id text NOT NULL,
  status          text NOT NULL,
  outcome         text NOT NULL,
  received_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (provider, event_id)
);

-- Nonces seen, the fallback of the Redis replay cache.
CREATE TABLE callback_nonces (
  nonce      text PRIMARY KEY,
  expires_at timestamptz NOT NULL
);
CREATE INDEX callback_nonces_expiry_idx ON callback_nonces (expires_at);

-- The transactional outbox. A row records that the event exists; delivery is
-- recorded separately in delivered_at and never deletes the row.
CREATE TABLE outbox (
  seq              bigserial PRIMARY KEY,
  event_id         text NOT NULL UNIQUE,
  payment_id       text NOT NULL,
  order_id         text NOT NULL,
  status           text NOT NULL,
  amount_minor     bigint NOT NULL,
  currency         text NOT NULL,
  occurred_at      timestamptz NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  last_error       text NOT NULL DEFAULT '',
  delivered_at     timestamptz,
  apply_outcome    text,
  dead_lettered_at timestamptz
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at, seq)
  WHERE delivered_at IS NULL AND dead_lettered_at IS NULL;
CREATE INDEX outbox_order_idx ON outbox (order_id, seq)
  WHERE delivered_at IS NULL;
CREATE INDEX outbox_delivered_idx ON outbox (delivered_at) WHERE delivered_at IS NOT NULL;

-- Discrepancies found by callbacks and the reconciler.
CREATE TABLE anomalies (
  anomaly_id   bigserial PRIMARY KEY,
  kind         text NOT NULL,
  payment_id   text,
  order_id     text,
  provider_txn_id text,
  detail       text NOT NULL DEFAULT '',
  status       text NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'AUTO_REPAIRED', 'NEEDS_REVIEW')),
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX anomalies_open_idx ON anomalies (kind) WHERE status = 'OPEN';
