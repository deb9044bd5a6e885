-- Every instance asks every few seconds which sessions were ended lately (REVOCATION_POLL_SECONDS).
CREATE INDEX issued_tokens_revoked_at_idx ON issued_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
