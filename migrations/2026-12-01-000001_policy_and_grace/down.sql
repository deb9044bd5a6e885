ALTER TABLE issued_tokens DROP COLUMN rotated_user_agent;
ALTER TABLE users DROP COLUMN hosted_domain;
