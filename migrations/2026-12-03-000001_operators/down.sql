DROP INDEX issued_tokens_expires_at_idx;
DROP INDEX identities_email_idx;
DROP TABLE audit_events;
ALTER TABLE users DROP COLUMN disabled_at;
