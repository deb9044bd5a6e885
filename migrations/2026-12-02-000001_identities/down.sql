-- Back to one identity per user: each account keeps its oldest identity; the others go.
ALTER TABLE users ADD COLUMN issuer text, ADD COLUMN subject text,
    ADD COLUMN hosted_domain text CHECK (char_length(hosted_domain) <= 2048);
UPDATE users u SET issuer = i.issuer, subject = i.subject, hosted_domain = i.hosted_domain
FROM (SELECT DISTINCT ON (user_id) * FROM identities ORDER BY user_id, created_at) i WHERE i.user_id = u.id;
DELETE FROM users WHERE issuer IS NULL;
ALTER TABLE users ALTER COLUMN issuer SET NOT NULL, ALTER COLUMN subject SET NOT NULL,
    ADD CONSTRAINT users_issuer_subject_key UNIQUE (issuer, subject);
ALTER TABLE issued_tokens DROP COLUMN identity_id, DROP COLUMN provider;
DROP TABLE identities;
