-- The statement comparison also checks the other direction: every capture of
-- ours must stand on the provider's statement (capture_missing_at_provider).
-- It lists our captures by the time we first recorded their success.
CREATE INDEX payment_history_succeeded_idx ON payment_history (at)
  WHERE new_status = 'SUCCEEDED' AND old_status IN ('PENDING', 'FAILED');

-- Recorded once per capture, like the other capture-level kinds, although
-- every pass re-reads the statement's overlap.
DROP INDEX anomalies_once_per_capture;
CREATE UNIQUE INDEX anomalies_once_per_capture ON anomalies (kind, provider_txn_id)
  WHERE provider_txn_id IS NOT NULL AND kind IN ('duplicate_capture', 'late_success',
    'capture_unknown_payment', 'capture_missing_on_our_side', 'settlement_amount_mismatch',
    'refund_missing_on_our_side', 'capture_missing_at_provider');

-- The open-anomalies gauge counts what waits for a person too.
CREATE INDEX anomalies_needs_review_idx ON anomalies (kind) WHERE status = 'NEEDS_REVIEW';
