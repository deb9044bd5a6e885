DROP TABLE consumed_logout_tokens;
DROP TABLE provider_sessions;
