-- A callback that disagrees with its payment (amount, currency, provider) is
-- recorded once per capture and disagreement: the provider's retries and
-- duplicates of the same event no longer add a row each. Rows written before
-- (without provider_txn_id) are left as they are.
CREATE UNIQUE INDEX anomalies_callback_mismatch_once ON anomalies (provider_txn_id, detail)
  WHERE kind = 'callback_amount_mismatch' AND provider_txn_id IS NOT NULL;
