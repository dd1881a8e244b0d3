-- The PENDING payments the pgbench scripts transition (psql -v payments=N),
-- each with its capture id as after the debit; then fresh statistics.
INSERT INTO payments (payment_id, order_id, amount_minor, currency, status, provider,
                      provider_txn_id)
  SELECT '0190a000-0000-7000-8000-' || lpad(i::text, 12, '0'),
         '0190b000-0000-7000-8000-' || lpad(i::text, 12, '0'),
         1000 + i % 9000, 'EUR', 'PENDING', 'sandbox',
         '0190c000-0000-7000-8000-' || lpad(i::text, 12, '0')
  FROM generate_series(1, :payments) i;
VACUUM ANALYZE payments;
