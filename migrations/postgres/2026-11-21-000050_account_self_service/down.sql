DROP TABLE email_undo_tokens;
DROP TABLE email_changes;
ALTER TABLE accounts DROP COLUMN deleted_at;
ALTER TABLE accounts DROP COLUMN analytics_consent;
