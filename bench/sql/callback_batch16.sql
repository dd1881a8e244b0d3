-- pgbench: 16 provider callbacks applied as one set-based transaction, the
-- shape group commit gives the callback path: every statement of
-- callback_tx.sql once per batch, over 16 rows (UPDATE ... FROM unnest(...),
-- INSERT ... SELECT). The arrays a service would bind as parameters are
-- built here from generate_series over the same UUID-shaped identifiers.
-- Variables (pg_ceiling.sh sets them): run, k (0), per_client (a multiple
-- of 16), channel (unused here: the service notifies after the commit).
\set k :k + 1
\set first :client_id * :per_client + (((:k - 1) * 16) % :per_client) + 1
\set last :first + 15
\set u0 :run * 100000000000 + :client_id * 100000000 + (:k - 1) * 16
BEGIN;
INSERT INTO callback_nonces (nonce, expires_at)
  SELECT 'sandbox:0190d000-0000-7000-80' || lpad((:u0::bigint + g)::text, 15, '0'),
         clock_timestamp() + 600000::bigint * interval '1 millisecond'
  FROM generate_series(1, 16) g
  ON CONFLICT (nonce) DO NOTHING RETURNING nonce;
SELECT payment_id, order_id, amount_minor, currency, status, provider,
       coalesce(provider_txn_id, ''), failure_reason, late_success,
       (extract(epoch FROM created_at) * 1000000)::bigint,
       (extract(epoch FROM updated_at) * 1000000)::bigint, evidence_rank
  FROM payments
  WHERE payment_id = ANY (ARRAY(SELECT '0190a000-0000-7000-8000-' || lpad(i::text, 12, '0')
                                FROM generate_series(:first::bigint, :last::bigint) i))
  ORDER BY payment_id FOR UPDATE;
SELECT event_id FROM provider_callbacks
  WHERE provider = 'sandbox'
    AND event_id = ANY (ARRAY(SELECT '0190e000-0000-7000-80' || lpad((:u0::bigint + g)::text, 15, '0')
                              FROM generate_series(1, 16) g));
UPDATE payments p SET status = u.status,
       provider_txn_id = nullif(u.txn, ''),
       failure_reason = '', evidence_rank = 1, live = true,
       late_success = false, updated_at = clock_timestamp()
  FROM unnest(ARRAY(SELECT '0190a000-0000-7000-8000-' || lpad(i::text, 12, '0') FROM generate_series(:first::bigint, :last::bigint) i),
              ARRAY(SELECT '0190c000-0000-7000-8000-' || lpad(i::text, 12, '0')
                    FROM generate_series(:first::bigint, :last::bigint) i),
              ARRAY(SELECT 'SUCCEEDED' FROM generate_series(1, 16))) AS u(payment_id, txn, status)
  WHERE p.payment_id = u.payment_id
  RETURNING p.payment_id, p.order_id, p.amount_minor, p.currency, p.status, p.provider,
            coalesce(p.provider_txn_id, ''), p.failure_reason, p.late_success,
            (extract(epoch FROM p.created_at) * 1000000)::bigint,
            (extract(epoch FROM p.updated_at) * 1000000)::bigint, p.evidence_rank;
INSERT INTO payment_history (payment_id, source, old_status, new_status, event_id, detail)
  SELECT '0190a000-0000-7000-8000-' || lpad((:first::bigint + g - 1)::text, 12, '0'), 'callback', 'PENDING', 'SUCCEEDED', '0190e000-0000-7000-80' || lpad((:u0::bigint + g)::text, 15, '0'), ''
  FROM generate_series(1, 16) g;
INSERT INTO outbox (event_id, payment_id, order_id, status, amount_minor, currency, occurred_at)
  SELECT '0190f000-0000-7000-80' || lpad((:u0::bigint + g)::text, 15, '0'), '0190a000-0000-7000-8000-' || lpad((:first::bigint + g - 1)::text, 12, '0'),
         '0190b000-0000-7000-8000-' || lpad((:first::bigint + g - 1)::text, 12, '0'),
         'SUCCEEDED', 1000 + (:first::bigint + g - 1) % 9000, 'EUR',
         timestamptz 'epoch' + 1765000000000::bigint * interval '1 millisecond'
  FROM generate_series(1, 16) g;
INSERT INTO provider_callbacks (provider, event_id, payment_id, provider_txn_id, status, outcome)
  SELECT 'sandbox', '0190e000-0000-7000-80' || lpad((:u0::bigint + g)::text, 15, '0'), '0190a000-0000-7000-8000-' || lpad((:first::bigint + g - 1)::text, 12, '0'),
         '0190c000-0000-7000-8000-' || lpad((:first::bigint + g - 1)::text, 12, '0'),
         'SUCCEEDED', 'APPLIED'
  FROM generate_series(1, 16) g;
END;
