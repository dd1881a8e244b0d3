-- The fault schedule as it was followed: every Debit call takes the next draw
-- number inside its transaction and records the decisions DrawSeed(seed,
-- draw) gave it, so a run's faults can be recomputed from its seed and
-- compared (payonce-storm does).
CREATE SEQUENCE fault_draw_seq;

CREATE TABLE fault_draws (
  draw                bigint PRIMARY KEY,
  merchant_payment_id text NOT NULL REFERENCES debits (merchant_payment_id),
  first_call          boolean NOT NULL,
  asked_minor         bigint NOT NULL,
  decisions           text NOT NULL,
  recorded_at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
