// Local OpenID Connect provider for doorman development and integration tests.
//
// DEV ONLY: anyone can sign in as anyone. It listens on loopback, keeps
// everything in memory and forgets all sessions, clients and keys on restart.
// Configured only through environment variables; see README.md.

import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

// ---------------------------------------------------------------------------
// Configuration from the environment
// ---------------------------------------------------------------------------

const env = (name, fallback) => {
  const value = process.env[name];
  return value === undefined || value.trim() === '' ? fallback : value.trim();
};
const flag = (name, fallback) => !['0', 'false', 'no', 'off'].includes(env(name, fallback).toLowerCase());
const list = (value) => value.split(',').map((s) => s.trim()).filter(Boolean);

const PORT = Number.parseInt(env('IDP_PORT', '9000'), 10);
const HOST = env('IDP_HOST', '127.0.0.1');
const ISSUER = env('IDP_ISSUER', `http://127.0.0.1:${PORT}`);
const CLIENT_ID = env('IDP_CLIENT_ID', 'doorman-dev');
const CLIENT_SECRET = env('IDP_CLIENT_SECRET', 'doorman-dev-secret-not-for-production');
const CLIENT_AUTH_METHOD = env('IDP_CLIENT_AUTH_METHOD', 'client_secret_basic');
const REDIRECT_URIS = list(env('IDP_REDIRECT_URIS', 'http://127.0.0.1:8000/auth,http://localhost:8000/auth'));
// Where RP-initiated logout may send the browser back to: by default each redirect URI's
// origin with `/` (doorman's post_logout_redirect_uri is its public origin's `/`).
const POST_LOGOUT_REDIRECT_URIS = list(
  env('IDP_POST_LOGOUT_REDIRECT_URIS', [...new Set(REDIRECT_URIS.map((uri) => `${new URL(uri).origin}/`))].join(',')),
);
const ALLOW_REGISTRATION = flag('IDP_ALLOW_REGISTRATION', '1');
const JWKS_FILE = env('IDP_JWKS_FILE', '');
// Off (the default): the scope-granted claims go into the ID token itself, as Google does.
// On: oidc-provider's own default, the OpenID Certified behaviour of many providers: the ID
// token carries `sub` only and email/profile come from the userinfo endpoint.
const CONFORM_ID_TOKEN_CLAIMS = flag('IDP_CONFORM_ID_TOKEN_CLAIMS', '0');

if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535) {
  throw new Error(`IDP_PORT must be a port number, got ${JSON.stringify(process.env.IDP_PORT)}`);
}
if (!['client_secret_basic', 'client_secret_post'].includes(CLIENT_AUTH_METHOD)) {
  throw new Error('IDP_CLIENT_AUTH_METHOD must be client_secret_basic or client_secret_post');
}

// oidc-provider 9 prints "Unsupported runtime" on import when Node is older
// than 22. It runs fine on Node 20, so drop exactly that one line; every other
// warning still gets through.
const { default: Provider } = await (async () => {
  const { warn } = console;
  console.warn = (...args) => {
    if (!String(args[0]).includes('Unsupported runtime')) warn(...args);
  };
  try {
    return await import('oidc-provider');
  } finally {
    console.warn = warn;
  }
})();

// ---------------------------------------------------------------------------
// Signing keys
// ---------------------------------------------------------------------------

function loadJwks() {
  if (JWKS_FILE) {
    const jwks = JSON.parse(readFileSync(JWKS_FILE, 'utf8'));
    if (!Array.isArray(jwks?.keys) || jwks.keys.length === 0) {
      throw new Error(`IDP_JWKS_FILE ${JWKS_FILE} must hold {"keys": [...]} with at least one private JWK`);
    }
    return jwks;
  }
  // A fresh key per start-up: relying parties fetch jwks_uri, so nothing needs
  // to be kept. The kid is derived from the key so it is stable for its life.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  const kid = createHash('sha256').update(jwk.n).digest('base64url').slice(0, 16);
  return { keys: [{ ...jwk, kid, alg: 'RS256', use: 'sig' }] };
}

// ---------------------------------------------------------------------------
// Accounts: every login name is a valid account
// ---------------------------------------------------------------------------

// Whatever is typed into the login box, trimmed, is the account id and `sub`.
const normaliseLogin = (login) => (typeof login === 'string' ? login.trim() : '');

const capitalise = (word) => word.charAt(0).toUpperCase() + word.slice(1).toLowerCase();

// "alice" -> "Alice", "alice.smith@x" -> "Alice Smith", "bob_o-neil" -> "Bob O Neil"
function humanName(login) {
  const local = login.split('@')[0];
  const words = local.split(/[._\-+\s]+/).filter(Boolean).map(capitalise);
  return words.length ? words.join(' ') : login;
}

// Up to two initials for the avatar: the first letter or digit of each of the first two words of
// the name that have one, upper-cased ("Bob Jones" -> "BJ", "browser-3fa9c0" -> "B3"); "?" when
// there is none. Only letters and digits get in, so the SVG needs no escaping.
function initials(name) {
  const firsts = name
    .split(' ')
    .map((word) => Array.from(word).find((c) => /[\p{L}\p{N}]/u.test(c)))
    .filter(Boolean);
  return firsts.length ? firsts.slice(0, 2).join('').toUpperCase() : '?';
}

// A 64x64 SVG avatar as a data: URI, so it shows without any server: a circle in a colour
// derived from `sub` (the same person always gets the same colour) with the initials in white.
// About 400-450 bytes for one or two initials.
function avatarFor(sub, name) {
  const hue = createHash('sha256').update(sub).digest().readUInt16BE(0) % 360;
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">' +
    `<circle cx="32" cy="32" r="32" fill="hsl(${hue},55%,42%)"/>` +
    '<text x="32" y="32" dy=".35em" text-anchor="middle" font-family="sans-serif" font-size="26" ' +
    `font-weight="600" fill="#fff">${initials(name)}</text></svg>`;
  return `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;
}

function claimsFor(sub) {
  // "unverified:ann@example.test" stands for an account whose address (ann@example.test) the
  // provider has not verified.
  const unverified = sub.startsWith('unverified:');
  const login = unverified ? sub.slice('unverified:'.length) : sub;
  const email = (login.includes('@') ? login : `${login}@example.test`).toLowerCase();
  const name = humanName(sub);
  const [givenName, ...rest] = name.split(' ');
  return {
    sub,
    email,
    email_verified: !unverified,
    name,
    given_name: givenName,
    family_name: rest.length ? rest.join(' ') : undefined,
    // Inline, so the avatar shows offline and nothing has to serve it.
    picture: avatarFor(sub, name),
  };
}

async function findAccount(ctx, id) {
  const sub = normaliseLogin(id);
  if (!sub) return undefined;
  return {
    accountId: sub,
    // Returning every claim is fine: oidc-provider filters them down to what
    // the granted scopes allow (see `claims` below).
    async claims() {
      return claimsFor(sub);
    },
  };
}

// ---------------------------------------------------------------------------
// Consent: skipped, every client gets the OpenID scopes it asks for
// ---------------------------------------------------------------------------

async function loadExistingGrant(ctx) {
  const { oidc } = ctx;
  const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
  let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if (!grant) {
    grant = new oidc.provider.Grant({
      clientId: oidc.client.clientId,
      accountId: oidc.account.accountId,
    });
  }
  // requestParamOIDCScopes is the requested `scope` filtered to the scopes this
  // provider knows, so unknown scopes are never granted.
  const requested = [...oidc.requestParamOIDCScopes];
  if (requested.length) grant.addOIDCScope(requested.join(' '));
  await grant.save();
  return grant;
}

// ---------------------------------------------------------------------------
// Provider
// ---------------------------------------------------------------------------

const clients = [{
  client_id: CLIENT_ID,
  client_secret: CLIENT_SECRET,
  client_name: 'doorman (dev)',
  redirect_uris: REDIRECT_URIS,
  post_logout_redirect_uris: POST_LOGOUT_REDIRECT_URIS,
  token_endpoint_auth_method: CLIENT_AUTH_METHOD,
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  id_token_signed_response_alg: 'RS256',
}];

const configuration = {
  clients,
  clientDefaults: {
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  },
  jwks: loadJwks(),
  findAccount,
  loadExistingGrant,

  // Authorization code flow only; no implicit or hybrid response types.
  responseTypes: ['code'],

  // No offline_access: asking for it makes oidc-provider insist on a consent
  // screen. Refresh tokens come from issueRefreshToken below instead.
  scopes: ['openid', 'email', 'profile'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'picture', 'given_name', 'family_name'],
  },
  // false: put the scope-granted claims into the ID token itself (like Google)
  // instead of only serving them from the userinfo endpoint. IDP_CONFORM_ID_TOKEN_CLAIMS.
  conformIdTokenClaims: CONFORM_ID_TOKEN_CLAIMS,

  // A refresh token for every client allowed the refresh_token grant (the
  // static client is; registered clients only if they ask for it).
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),

  // PKCE for every client, confidential ones included. S256 is the only
  // method oidc-provider 9 supports.
  pkce: { required: () => true },

  features: {
    // The built-in login page at /interaction/:uid. It accepts any login and
    // ignores the password; consent never shows because loadExistingGrant
    // grants everything up front.
    devInteractions: { enabled: true },
    registration: {
      enabled: ALLOW_REGISTRATION,
      initialAccessToken: false, // open registration: this is a loopback dev provider
    },
    rpInitiatedLogout: { enabled: true },
    // Logout tokens POSTed to a client's backchannel_logout_uri when the user's session here
    // ends (OpenID Connect Back-Channel Logout 1.0), e.g. by RP-initiated logout from another app.
    backchannelLogout: { enabled: true },
    userinfo: { enabled: true },
    revocation: { enabled: true },
  },

  // No `secure` flag, so the cookies work over plain http on 127.0.0.1.
  // No cookie signing keys either: the cookie values are random ids of
  // in-memory records, and leaving out the extra `.sig` cookies keeps the
  // jar simple for the non-browser clients of the integration tests.
  cookies: {
    long: { httpOnly: true, sameSite: 'lax', secure: false },
    short: { httpOnly: true, sameSite: 'lax', secure: false },
  },

  // oidc-provider's outgoing requests (back-channel logout tokens) refuse special-use addresses
  // against SSRF; here every relying party is on loopback, so loopback alone is let through.
  fetch: (url, options) => {
    if (['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname)) {
      delete options.dispatcher;
    }
    return globalThis.fetch(url, options);
  },

  // Seconds. Numbers, not functions, so oidc-provider stops nagging about them.
  ttl: {
    AccessToken: 60 * 60,
    AuthorizationCode: 5 * 60,
    IdToken: 60 * 60,
    Interaction: 60 * 60,
    RefreshToken: 24 * 60 * 60,
    Grant: 24 * 60 * 60,
    Session: 24 * 60 * 60,
  },
};

const provider = new Provider(ISSUER, configuration);

// Plain http, no reverse proxy: never trust X-Forwarded-* headers.
provider.proxy = false;

// The stock dev login form posts `login` as typed; trim it once here so the
// session, grant and `sub` all agree. A blank login would otherwise crash the
// resume step with a 500, so it ends the flow with a login_required error
// sent back to the client instead. The form handler calls
// provider.interactionFinished, which calls this.interactionResult, so this
// instance property takes effect.
const { interactionResult } = provider;
provider.interactionResult = function normalisedInteractionResult(req, res, result, options) {
  let out = result;
  if (out?.login) {
    const accountId = normaliseLogin(out.login.accountId);
    out = accountId
      ? { ...out, login: { ...out.login, accountId } }
      : { error: 'login_required', error_description: 'the login name must not be empty' };
  }
  return interactionResult.call(this, req, res, out, options);
};

// The built-in pages pull a web font from the internet with
// `@import url(https://fonts.googleapis.com/...)`. There is no internet here,
// so strip any @import or <link> of an absolute http(s) URL from HTML bodies
// before they go out. Everything else on the pages is inline.
const EXTERNAL_IMPORT = /@import\s+url\(\s*['"]?https?:\/\/[^)]*\)\s*;?/gi;
const EXTERNAL_LINK = /<link\b[^>]*\bhref\s*=\s*['"]?https?:\/\/[^>]*>/gi;
provider.use(async (ctx, next) => {
  await next();
  if (typeof ctx.body === 'string' && ctx.response.is('html')) {
    ctx.body = ctx.body.replace(EXTERNAL_IMPORT, '').replace(EXTERNAL_LINK, '');
  }
});

provider.on('server_error', (ctx, err) => {
  console.error('idp server_error:', err);
});
provider.on('backchannel.error', (ctx, err, client) => {
  console.error(`idp: back-channel logout to ${client.clientId} failed:`, err.message, err.cause?.message ?? '');
});
provider.on('backchannel.success', (ctx, client) => {
  console.log(`idp: back-channel logout sent to ${client.clientId}`);
});

// ---------------------------------------------------------------------------
// HTTP server
// ---------------------------------------------------------------------------

const server = createServer(provider.callback());

server.on('error', (err) => {
  console.error(`idp: cannot listen on ${HOST}:${PORT}: ${err.message}`);
  process.exit(1);
});

server.listen(PORT, HOST, () => {
  console.log(`idp listening on ${ISSUER}`);
});

function shutdown(signal) {
  console.log(`idp: ${signal}, shutting down`);
  server.close(() => process.exit(0));
  // Keep-alive connections would hold close() open; drop them.
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
