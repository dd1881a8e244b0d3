-- Repeated deliveries of an event already applied are one timeline entry with
-- a count (repeats, last_at), not one row each: a provider or relay retrying
-- forever can no longer grow an order's timeline without bound. Existing
-- repeated DUPLICATE rows are folded into their first row.
ALTER TABLE order_timeline
  ADD COLUMN repeats integer NOT NULL DEFAULT 1 CHECK (repeats >= 1),
  ADD COLUMN last_at timestamptz;

CREATE TEMPORARY TABLE folded_duplicates ON COMMIT DROP AS
  SELECT order_id, event_id, min(entry_id) AS keep, count(*) AS n, max(at) AS last_at
  FROM order_timeline
  WHERE outcome = 'DUPLICATE' AND event_id IS NOT NULL
  GROUP BY order_id, event_id
  HAVING count(*) > 1;

UPDATE order_timeline t SET repeats = f.n, last_at = f.last_at
  FROM folded_duplicates f WHERE t.entry_id = f.keep;

DELETE FROM order_timeline t USING folded_duplicates f
  WHERE t.outcome = 'DUPLICATE' AND t.order_id = f.order_id AND t.event_id = f.event_id
    AND t.entry_id <> f.keep;

CREATE UNIQUE INDEX order_timeline_duplicate_once ON order_timeline (order_id, event_id)
  WHERE outcome = 'DUPLICATE';
