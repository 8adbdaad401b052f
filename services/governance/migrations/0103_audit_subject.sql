-- The audit log read by subject (a dataset's decisions for its changelog, the log filtered by
-- subject), newest first.
CREATE INDEX audit_log_subject ON audit_log (subject, id);
