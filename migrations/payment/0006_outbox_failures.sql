-- The failed delivery attempts of an outbox row that count toward its
-- backoff and its dead letter. Attempts made while the order service could
-- not be reached (UNAVAILABLE) stay in `attempts` but not here: an outage is
-- no fault of the event, so it neither lengthens the first backoff after the
-- order service returns nor uses up the attempts before a dead letter. Rows
-- written before start at 0.
ALTER TABLE outbox ADD COLUMN failures integer NOT NULL DEFAULT 0;
