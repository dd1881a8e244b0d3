-- The sandbox provider's own ledger: debits, captures, refunds, callbacks.
-- Times come from the sandbox's clock (millisecond precision), so a capture's
-- captured_at equals the occurred_at_unix_ms of its callback.
CREATE TABLE debits (
  merchant_payment_id text PRIMARY KEY,
  amount_minor        bigint NOT NULL CHECK (amount_minor > 0),
  currency            text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  -- Debit calls received, the first one included.
  debit_calls         bigint NOT NULL DEFAULT 1 CHECK (debit_calls >= 1),
  created_at          timestamptz NOT NULL
);

CREATE TABLE captures (
  provider_txn_id     text PRIMARY KEY,
  -- Creation order (captured_at may tie within a millisecond).
  seq                 bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  merchant_payment_id text NOT NULL REFERENCES debits (merchant_payment_id),
  status              text NOT NULL CHECK (status IN ('SUCCEEDED', 'FAILED', 'REFUNDED')),
  amount_minor        bigint NOT NULL CHECK (amount_minor > 0),
  currency            text NOT NULL,
  captured_at         timestamptz NOT NULL,
  refunded_at         timestamptz,
  CHECK ((status = 'REFUNDED') = (refunded_at IS NOT NULL))
);
CREATE INDEX captures_payment_idx ON captures (merchant_payment_id, seq);
CREATE INDEX captures_at_idx ON captures (captured_at);

-- A capture is refunded at most once (provider_txn_id UNIQUE).
CREATE TABLE refunds (
  refund_id       text PRIMARY KEY,
  idempotency_key text NOT NULL UNIQUE,
  provider_txn_id text NOT NULL UNIQUE REFERENCES captures (provider_txn_id),
  amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
  currency        text NOT NULL,
  refunded_at     timestamptz NOT NULL
);
CREATE INDEX refunds_at_idx ON refunds (refunded_at);

-- Callbacks to deliver: one row per notification (one per capture); re-sends
-- reuse event_id. The fault columns are decided when the capture is made.
CREATE TABLE callbacks (
  event_id        text PRIMARY KEY,
  provider_txn_id text NOT NULL REFERENCES captures (provider_txn_id),
  -- What the callback reports.
  status          text NOT NULL CHECK (status IN ('SUCCEEDED', 'FAILED')),
  -- Faults: never sent; extra copies with the first attempt; a forged copy
  -- ('' for none); a verbatim replay after the acknowledgement.
  dropped         boolean NOT NULL DEFAULT false,
  extra_copies    integer NOT NULL DEFAULT 0 CHECK (extra_copies BETWEEN 0 AND 10),
  forge           text NOT NULL DEFAULT ''
                  CHECK (forge IN ('', 'wrong_secret', 'flipped_status', 'altered_amount')),
  replay          boolean NOT NULL DEFAULT false,
  -- Delivery state.
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  claim_id        text,
  first_sent_at   timestamptz,
  last_sent_at    timestamptz,
  acked_at        timestamptz,
  given_up_at     timestamptz,
  duplicates_sent_at timestamptz,
  forged_at       timestamptz,
  replayed_at     timestamptz,
  last_result     text NOT NULL DEFAULT '',
  last_error      text NOT NULL DEFAULT '',
  -- The last genuine delivery (the acknowledged one if any), verbatim.
  last_nonce        text,
  last_timestamp_ms bigint,
  last_signature    text
);
CREATE INDEX callbacks_due_idx ON callbacks (next_attempt_at)
  WHERE acked_at IS NULL AND given_up_at IS NULL AND NOT dropped;
CREATE INDEX callbacks_txn_idx ON callbacks (provider_txn_id);

-- Callbacks by result: acknowledged, rejected, unreachable, dropped, forged,
-- forged_accepted, replayed, replayed_accepted, given_up.
CREATE TABLE callback_counters (
  result text PRIMARY KEY,
  count  bigint NOT NULL DEFAULT 0 CHECK (count >= 0)
);

-- The fault configuration (one row; absent = no faults).
CREATE TABLE faults (
  id                            integer PRIMARY KEY CHECK (id = 1),
  fail_rate                     double precision NOT NULL CHECK (fail_rate BETWEEN 0 AND 1),
  drop_callback_rate            double precision NOT NULL
                                CHECK (drop_callback_rate BETWEEN 0 AND 1),
  duplicate_callback_rate       double precision NOT NULL
                                CHECK (duplicate_callback_rate BETWEEN 0 AND 1),
  max_duplicates                integer NOT NULL CHECK (max_duplicates BETWEEN 0 AND 10),
  min_delay_ms                  integer NOT NULL CHECK (min_delay_ms >= 0),
  max_delay_ms                  integer NOT NULL CHECK (max_delay_ms >= min_delay_ms),
  reorder                       boolean NOT NULL,
  double_charge_rate            double precision NOT NULL
                                CHECK (double_charge_rate BETWEEN 0 AND 1),
  replay_rate                   double precision NOT NULL CHECK (replay_rate BETWEEN 0 AND 1),
  forge_rate                    double precision NOT NULL CHECK (forge_rate BETWEEN 0 AND 1),
  callback_target_down_retry_ms integer NOT NULL CHECK (callback_target_down_retry_ms >= 0),
  updated_at                    timestamptz NOT NULL DEFAULT clock_timestamp()
);
