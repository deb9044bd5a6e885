-- One row per person per provider; (issuer, subject) is the provider's stable identity.
CREATE TABLE users (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    issuer          text        NOT NULL CHECK (char_length(issuer) BETWEEN 1 AND 2048),
    subject         text        NOT NULL CHECK (char_length(subject) BETWEEN 1 AND 255),
    email           text        CHECK (char_length(email) <= 2048),
    email_verified  boolean     NOT NULL DEFAULT false,
    name            text        CHECK (char_length(name) <= 2048),
    picture         text        CHECK (char_length(picture) <= 2048),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    last_login_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_issuer_subject_key UNIQUE (issuer, subject)
);

CREATE INDEX users_email_idx ON users (lower(email));

-- Login states already used at /auth, so a replayed callback is refused on every instance.
-- Rows older than the login timeout are useless and are deleted periodically.
CREATE TABLE consumed_login_states (
    state_hash   bytea       PRIMARY KEY,
    consumed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX consumed_login_states_consumed_at_idx ON consumed_login_states (consumed_at);
