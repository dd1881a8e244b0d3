-- A capture of another amount or currency than its payment (found by the
-- provider query) is recorded once per capture, like the other capture-level
-- kinds, and refunded by the reconciler.
DROP INDEX anomalies_once_per_capture;
CREATE UNIQUE INDEX anomalies_once_per_capture ON anomalies (kind, provider_txn_id)
  WHERE provider_txn_id IS NOT NULL AND kind IN ('duplicate_capture', 'late_success',
    'capture_unknown_payment', 'capture_missing_on_our_side', 'settlement_amount_mismatch',
    'refund_missing_on_our_side', 'capture_missing_at_provider', 'capture_amount_mismatch');
