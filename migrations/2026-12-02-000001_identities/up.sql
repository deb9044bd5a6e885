-- One account (`users`) may have several sign-in identities, one per (issuer, subject), from
-- several providers. Every existing user keeps their id: their one identity moves here, and
-- their sessions are tied to it.
CREATE TABLE identities (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The provider id (PROVIDERS) it last signed in with; the identity itself is (issuer, subject).
    provider        text        NOT NULL CHECK (char_length(provider) BETWEEN 1 AND 32),
    issuer          text        NOT NULL CHECK (char_length(issuer) BETWEEN 1 AND 2048),
    subject         text        NOT NULL CHECK (char_length(subject) BETWEEN 1 AND 255),
    email           text        CHECK (char_length(email) <= 2048),
    email_verified  boolean     NOT NULL DEFAULT false,
    -- Google's Workspace domain (`hd`), for the email-domain policy at every refresh.
    hosted_domain   text        CHECK (char_length(hosted_domain) <= 2048),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_login_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT identities_issuer_subject_key UNIQUE (issuer, subject)
);

CREATE INDEX identities_user_idx ON identities (user_id);
-- Linking by email looks up verified addresses only.
CREATE INDEX identities_verified_email_idx ON identities (lower(email)) WHERE email_verified;

INSERT INTO identities (user_id, provider, issuer, subject, email, email_verified, hosted_domain, created_at, last_login_at)
SELECT id, 'google', issuer, subject, email, email_verified, hosted_domain, created_at, last_login_at FROM users;

-- A session lives while the identity it signed in with stays connected; `provider` is the
-- access tokens' `idp`.
ALTER TABLE issued_tokens
    ADD COLUMN identity_id uuid REFERENCES identities (id) ON DELETE SET NULL,
    ADD COLUMN provider text NOT NULL DEFAULT 'google' CHECK (char_length(provider) BETWEEN 1 AND 32);
UPDATE issued_tokens t SET identity_id = i.id FROM identities i WHERE i.user_id = t.user_id;
ALTER TABLE issued_tokens ALTER COLUMN provider DROP DEFAULT;
CREATE INDEX issued_tokens_identity_idx ON issued_tokens (identity_id) WHERE revoked_at IS NULL;

ALTER TABLE users DROP CONSTRAINT users_issuer_subject_key;
ALTER TABLE users DROP COLUMN issuer, DROP COLUMN subject, DROP COLUMN hosted_domain;
