-- Seeds a migrated doorman database for bench/scale, set-based (INSERT ... SELECT ... FROM
-- generate_series), then ANALYZE. psql variables (psql -v):
--   users     accounts, each with one identity at :'issuer' (subject seed-<n>, which the mock
--             provider never hands out: its logins stay new users)
--   sessions  issued_tokens rows over the last 120 days: 60 % live, 25 % revoked at various
--             ages, 15 % expired; session n belongs to account ((n - 1) % users) + 1
--   provider_sessions  rows for the first live sessions (ID token and provider sid), as the
--             app keeps them for live sessions of an OpenID provider
--   audit     audit_events over the last 200 days, kinds weighted as a real trail would be
--   states    consumed_login_states over the last 2 days
--   issuer    the mock provider's issuer
-- Ids are derived from the row number (md5(...)::uuid: unique and spread like random uuids), so
-- the tables can refer to each other without joins. Random figures come from random() in a
-- subquery's select list, which PostgreSQL evaluates once per row.
\set ON_ERROR_STOP 1
SET synchronous_commit = off;
SET work_mem = '64MB';
SET maintenance_work_mem = '256MB';
\timing on

INSERT INTO users (id, email, email_verified, name, picture, created_at, updated_at, last_login_at, disabled_at)
SELECT md5('u' || g)::uuid, 'seed-user-' || g || '@seed.test', g % 10 <> 0, 'Seed User ' || g,
       'https://seed.test/u/' || g || '.png',
       now() - r1 * interval '400 days', now() - r1 * r2 * interval '400 days',
       now() - r1 * r2 * interval '400 days',
       CASE WHEN g % 100 = 0 THEN now() - r2 * interval '60 days' END
FROM (SELECT g, random() AS r1, random() AS r2 FROM generate_series(1, :users) g) s;

INSERT INTO identities (id, user_id, provider, issuer, subject, email, email_verified, created_at, last_login_at)
SELECT md5('i' || g)::uuid, md5('u' || g)::uuid, 'google', :'issuer', 'seed-' || g,
       'seed-user-' || g || '@seed.test', g % 10 <> 0,
       now() - r1 * interval '400 days', now() - r1 * r2 * interval '400 days'
FROM (SELECT g, random() AS r1, random() AS r2 FROM generate_series(1, :users) g) s;

-- kind: live (b < 0.60), revoked (< 0.85), expired. An expired session was created 30 days
-- before it expired (the refresh token's lifetime), within the last 120 days.
INSERT INTO issued_tokens (id, user_id, identity_id, provider, jti_hash, previous_jti_hash, rotated_at,
                           rotated_user_agent, created_at, last_used_at, expires_at, revoked_at, revoked_reason,
                           user_agent, ip)
SELECT md5('s' || g)::uuid, md5('u' || ug)::uuid, md5('i' || ug)::uuid, 'google',
       sha256(convert_to(g::text || 'x', 'UTF8')),
       CASE WHEN rotated THEN sha256(convert_to(g::text || 'p', 'UTF8')) END,
       CASE WHEN rotated THEN last_used END,
       CASE WHEN rotated THEN agent END,
       created, last_used,
       CASE kind WHEN 'live' THEN now() + r3 * interval '30 days'
                 WHEN 'revoked' THEN last_used + interval '30 days'
                 ELSE created + interval '30 days' END,
       CASE WHEN kind = 'revoked' THEN last_used END,
       CASE WHEN kind = 'revoked' THEN (ARRAY['logged out', 'revoked by the user', 'refresh token reused',
                                              'account disabled'])[1 + g % 4] END,
       agent, '198.51.100.' || (g % 250)
FROM (
  SELECT g, ug, kind, created, rotated, r3, agent,
         CASE kind WHEN 'expired' THEN created + r2 * interval '30 days'
                   ELSE created + r2 * (now() - created) END AS last_used
  FROM (
    SELECT g, (g - 1) % :users + 1 AS ug, r2, r3, r4 < 0.7 AS rotated,
           CASE WHEN b < 0.60 THEN 'live' WHEN b < 0.85 THEN 'revoked' ELSE 'expired' END AS kind,
           CASE WHEN b < 0.85 THEN now() - r1 * interval '120 days'
                ELSE now() - interval '30 days' - r1 * interval '90 days' END AS created,
           'Mozilla/5.0 (X11; Linux x86_64) Seed/' || (g % 97) || ' Firefox/13' || (g % 10) AS agent
    FROM (SELECT g, random() AS b, random() AS r1, random() AS r2, random() AS r3, random() AS r4
          FROM generate_series(1, :sessions) g) s
  ) t
) u;

-- The live sessions' provider data (the app deletes a session's row when the session ends).
INSERT INTO provider_sessions (session_id, issuer, provider_sid, id_token)
SELECT id, :'issuer', 'sid-' || md5(id::text), 'eyJhbGciOiJSUzI1NiJ9.' || repeat(md5(id::text), 8) || '.sig'
FROM issued_tokens WHERE revoked_at IS NULL AND expires_at > now()
LIMIT :provider_sessions;

INSERT INTO audit_events (at, kind, user_id, session_id, provider, ip, user_agent, detail)
SELECT at, kind, md5('u' || ug)::uuid,
       CASE WHEN kind IN ('sign_in', 'refresh_reuse', 'session_revoked', 'logout', 'backchannel_logout')
            THEN md5('s' || ug)::uuid END,
       CASE WHEN kind IN ('sign_in', 'sign_in_refused', 'backchannel_logout', 'identity_connected', 'identity_removed')
            THEN 'google' END,
       '198.51.100.' || (g % 250), 'Mozilla/5.0 (X11; Linux x86_64) Seed/' || (g % 97),
       CASE WHEN kind = 'sign_in_refused' THEN 'email domain not allowed' END
FROM (
  SELECT g, 1 + (hashint4(g) & 2147483647) % :users AS ug, now() - r1 * interval '200 days' AS at,
         (ARRAY['sign_in', 'sign_in', 'sign_in', 'sign_in', 'sign_in', 'sign_in', 'sign_in', 'sign_in',
                'sign_in', 'sign_in', 'logout', 'logout', 'logout', 'session_revoked', 'session_revoked',
                'sign_in_refused', 'backchannel_logout', 'identity_connected', 'refresh_reuse',
                'identity_removed', 'user_disabled', 'user_enabled', 'user_deleted'])[1 + floor(r2 * 23)::int] AS kind
  FROM (SELECT g, random() AS r1, random() AS r2 FROM generate_series(1, :audit) g) s
) t;

INSERT INTO consumed_login_states (state_hash, consumed_at)
SELECT sha256(convert_to(g::text || 'state', 'UTF8')), now() - random() * interval '2 days'
FROM generate_series(1, :states) g;

ANALYZE;
