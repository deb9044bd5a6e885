-- Logout at the provider, per session signed in with an OpenID provider. `provider_sid`: the
-- provider's session id (the ID token's `sid`), which its back-channel logout tokens name.
-- `id_token`: the sign-in's ID token, sent back as `id_token_hint` at RP-initiated logout; the
-- row goes when the session ends.
CREATE TABLE provider_sessions (
    session_id    uuid PRIMARY KEY REFERENCES issued_tokens (id) ON DELETE CASCADE,
    issuer        text NOT NULL CHECK (char_length(issuer) BETWEEN 1 AND 2048),
    provider_sid  text CHECK (char_length(provider_sid) <= 255),
    id_token      text CHECK (char_length(id_token) <= 16384)
);
CREATE INDEX provider_sessions_sid_idx ON provider_sessions (issuer, provider_sid) WHERE provider_sid IS NOT NULL;

-- Back-channel logout tokens already used (their `jti`), so a replayed one is refused.
CREATE TABLE consumed_logout_tokens (
    jti_hash     bytea       PRIMARY KEY,
    consumed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consumed_logout_tokens_consumed_at_idx ON consumed_logout_tokens (consumed_at);
