-- Google's Workspace domain (`hd`) of the sign-in, so the email-domain policy can be checked
-- again at every refresh against what Google said (only Google's `hd` is ever stored).
ALTER TABLE users ADD COLUMN hosted_domain text CHECK (char_length(hosted_domain) <= 2048);

-- The user agent of the request that last rotated the session's refresh token: the grace for
-- a second tab presenting the just-retired token is only for the same browser.
ALTER TABLE issued_tokens ADD COLUMN rotated_user_agent text CHECK (char_length(rotated_user_agent) <= 512);
