-- Two more faults: a capture of another amount than asked, and a capture
-- whose debit answers UNAVAILABLE and which appears only later.
ALTER TABLE faults
  ADD COLUMN wrong_amount_rate double precision NOT NULL DEFAULT 0
    CHECK (wrong_amount_rate BETWEEN 0 AND 1),
  ADD COLUMN late_capture_rate double precision NOT NULL DEFAULT 0
    CHECK (late_capture_rate BETWEEN 0 AND 1),
  ADD COLUMN late_capture_delay_ms integer NOT NULL DEFAULT 0
    CHECK (late_capture_delay_ms >= 0);
