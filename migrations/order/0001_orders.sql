-- Orders, their timeline, and the inbox of applied payment events.
CREATE TABLE orders (
  order_id        text PRIMARY KEY,
  request_id      text NOT NULL UNIQUE,
  customer_id     text NOT NULL CHECK (customer_id <> ''),
  amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
  currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  description     text NOT NULL DEFAULT '',
  status          text NOT NULL CHECK (status IN ('PENDING_PAYMENT', 'PAID', 'CANCELLED')),
  paid_payment_id text,
  cancel_reason   text NOT NULL DEFAULT '',
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK ((status = 'PAID') = (paid_payment_id IS NOT NULL))
);

-- Keyset pagination, newest first, with and without the customer filter.
CREATE INDEX orders_created_idx ON orders (created_at DESC, order_id DESC);
CREATE INDEX orders_customer_created_idx ON orders (customer_id, created_at DESC, order_id DESC);
-- The reconciler looks for orders still waiting for payment.
CREATE INDEX orders_pending_idx ON orders (created_at) WHERE status = 'PENDING_PAYMENT';

-- Every state change and every payment event seen, oldest first.
CREATE TABLE order_timeline (
  entry_id       bigserial PRIMARY KEY,
  order_id       text NOT NULL REFERENCES orders (order_id),
  at             timestamptz NOT NULL DEFAULT clock_timestamp(),
  source         text NOT NULL CHECK (source IN ('api', 'relay', 'reconciler')),
  kind           text NOT NULL,
  old_status     text,
  new_status     text,
  payment_id     text,
  event_id       text,
  outcome        text,
  payment_status text,
  detail         text NOT NULL DEFAULT ''
);
CREATE INDEX order_timeline_order_idx ON order_timeline (order_id, entry_id);

-- Payment events applied, keyed by event id: the dedupe of ApplyPaymentEvent.
CREATE TABLE payment_event_inbox (
  event_id    text PRIMARY KEY,
  order_id    text NOT NULL REFERENCES orders (order_id),
  payment_id  text NOT NULL,
  status      text NOT NULL,
  outcome     text NOT NULL,
  source      text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
