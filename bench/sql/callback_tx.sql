-- pgbench: one provider callback applied the way the payment service's simple
-- path does it (PgPaymentStore::ApplyCallback + ApplyEvidenceInTx): the same
-- statements in the same order, one transaction per callback. The service
-- wakes the relay after the commit, from a transaction of its own
-- (OutboxNotifier), so no NOTIFY is part of this transaction.
-- Variables (pg_ceiling.sh sets them): run, k (0), per_client (payments per
-- client), channel (the outbox NOTIFY channel, used by the
-- per_callback_notify_in_tx variant only). Payment number pidx is this
-- client's next payment (wrapping);
-- uid is unique per transaction and names the nonce, event and outbox row.
-- Identifiers are UUID-shaped text like the service's (36 characters).
\set k :k + 1
\set pidx :client_id * :per_client + ((:k - 1) % :per_client) + 1
\set uid :run * 100000000000 + :client_id * 100000000 + :k
\set amount 1000 + :pidx % 9000
BEGIN;
INSERT INTO callback_nonces (nonce, expires_at)
  VALUES ('sandbox:0190d000-0000-7000-80' || lpad(:uid::text, 15, '0'),
          clock_timestamp() + 600000::bigint * interval '1 millisecond')
  ON CONFLICT (nonce) DO NOTHING RETURNING 1;
SELECT payment_id, order_id, amount_minor, currency, status, provider,
       coalesce(provider_txn_id, ''), failure_reason, late_success,
       (extract(epoch FROM created_at) * 1000000)::bigint,
       (extract(epoch FROM updated_at) * 1000000)::bigint, evidence_rank
  FROM payments WHERE payment_id = '0190a000-0000-7000-8000-' || lpad(:pidx::text, 12, '0') FOR UPDATE;
SELECT 1 FROM provider_callbacks
  WHERE provider = 'sandbox' AND event_id = '0190e000-0000-7000-80' || lpad(:uid::text, 15, '0');
UPDATE payments SET status = 'SUCCEEDED',
       provider_txn_id = nullif('0190c000-0000-7000-8000-' || lpad(:pidx::text, 12, '0'), ''),
       failure_reason = '', evidence_rank = 1, live = true, late_success = false,
       updated_at = clock_timestamp()
  WHERE payment_id = '0190a000-0000-7000-8000-' || lpad(:pidx::text, 12, '0')
  RETURNING payment_id, order_id, amount_minor, currency, status, provider,
            coalesce(provider_txn_id, ''), failure_reason, late_success,
            (extract(epoch FROM created_at) * 1000000)::bigint,
            (extract(epoch FROM updated_at) * 1000000)::bigint, evidence_rank;
INSERT INTO payment_history (payment_id, source, old_status, new_status, event_id, detail)
  VALUES ('0190a000-0000-7000-8000-' || lpad(:pidx::text, 12, '0'), 'callback', nullif('PENDING', ''), nullif('SUCCEEDED', ''),
          nullif('0190e000-0000-7000-80' || lpad(:uid::text, 15, '0'), ''), '');
INSERT INTO outbox (event_id, payment_id, order_id, status, amount_minor, currency, occurred_at)
  VALUES ('0190f000-0000-7000-80' || lpad(:uid::text, 15, '0'), '0190a000-0000-7000-8000-' || lpad(:pidx::text, 12, '0'),
          '0190b000-0000-7000-8000-' || lpad(:pidx::text, 12, '0'), 'SUCCEEDED', :amount, 'EUR',
          CASE WHEN 1765000000000::bigint > 0
               THEN timestamptz 'epoch' + 1765000000000::bigint * interval '1 millisecond'
               ELSE clock_timestamp() END);
INSERT INTO provider_callbacks (provider, event_id, payment_id, provider_txn_id, status, outcome)
  VALUES ('sandbox', '0190e000-0000-7000-80' || lpad(:uid::text, 15, '0'), '0190a000-0000-7000-8000-' || lpad(:pidx::text, 12, '0'),
          '0190c000-0000-7000-8000-' || lpad(:pidx::text, 12, '0'), 'SUCCEEDED', 'APPLIED');
END;
