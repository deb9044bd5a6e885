-- A disabled account cannot sign in; its sessions were ended when it was disabled.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;

-- The audit trail: one row per security event, written in the transaction of the change it
-- records. No foreign keys: rows outlive the account and its sessions (a deleted account's
-- rows keep its random id but lose the IP and user agent). Never a token or a secret.
CREATE TABLE audit_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL CHECK (kind IN (
                  'sign_in', 'sign_in_refused', 'refresh_reuse', 'session_revoked', 'logout',
                  'backchannel_logout', 'user_disabled', 'user_enabled', 'user_deleted',
                  'identity_connected', 'identity_removed')),
    user_id     uuid,
    session_id  uuid,
    provider    text CHECK (char_length(provider) <= 64),
    ip          text CHECK (char_length(ip) <= 64),
    user_agent  text CHECK (char_length(user_agent) <= 512),
    detail      text CHECK (char_length(detail) <= 256)
);
CREATE INDEX audit_events_user_idx ON audit_events (user_id, at DESC) WHERE user_id IS NOT NULL;
-- Retention deletes by age; revocation polling reads the recent `session_revoked` rows of
-- deleted accounts (whose session rows are gone).
CREATE INDEX audit_events_at_idx ON audit_events (at);

-- Operators find accounts by any identity's email (`doorman users show EMAIL`), verified or not.
CREATE INDEX identities_email_idx ON identities (lower(email));

-- Retention deletes sessions that expired long ago.
CREATE INDEX issued_tokens_expires_at_idx ON issued_tokens (expires_at);
