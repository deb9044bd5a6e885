-- One row per session (a browser or an app signed in as a user). The refresh token is a signed
-- JWT naming the session (`sid`) and a random `jti`; only SHA-256 of the current jti is stored.
-- A rotation replaces it and keeps the previous hash for a short grace period (two tabs
-- refreshing at once); any other retired jti presented again revokes the session.
CREATE TABLE issued_tokens (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    jti_hash            bytea       NOT NULL UNIQUE,
    previous_jti_hash   bytea,
    rotated_at          timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_used_at        timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz NOT NULL,
    revoked_at          timestamptz,
    revoked_reason      text,
    user_agent          text        CHECK (char_length(user_agent) <= 512),
    ip                  text        CHECK (char_length(ip) <= 64)
);

CREATE INDEX issued_tokens_user_active_idx ON issued_tokens (user_id) WHERE revoked_at IS NULL;
