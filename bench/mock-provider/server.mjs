// Auto-approving OpenID Connect provider for bench/run, built on oauth2-mock-server 8.x.
// Loopback only, never for anything but the benchmark.
//
// What oauth2-mock-server does by itself (read from dist/oauth2-server-*.mjs, 8.2.3):
// - GET /authorize never shows a page: it redirects straight to redirect_uri with a random
//   `code` and the `state`; it remembers the `nonce` and the PKCE challenge under that code.
// - POST /token checks the PKCE verifier against the remembered challenge, then signs an access
//   token and an ID token with the key store's key (RS256 here). The ID token gets
//   `aud` = the client id from HTTP Basic auth (or the `client_id` body field) and the `nonce`
//   remembered for the code; `sub` is always "johndoe" and there is no email or name.
// - It does not send the RFC 9207 `iss` authorization-response parameter and its discovery
//   document does not advertise `authorization_response_iss_parameter_supported`.
//
// What this wrapper adds:
// - Users: each token request picks one of MOCK_USERS users at random (sub, email, name, and a
//   picture: every claim in the ID token, as with Google, so no UserInfo request), so
//   the load sees both first logins (insert) and returning ones (update).
// - `iss` on the authorization redirect, advertised in discovery, as Google does, so the
//   app's issuer check of the authorization response runs on every login. Discovery also
//   names client_secret_basic (the app's method, which the mock accepts) instead of "none".
// - GET /bench/stats: token requests served and distinct users seen.
//
// Environment: MOCK_PORT (required), MOCK_USERS (default 500).

import http from 'node:http';
import { OAuth2Server } from 'oauth2-mock-server';

const port = Number(process.env.MOCK_PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('MOCK_PORT must be set to a port number');
  process.exit(2);
}
const userCount = Math.max(1, Number(process.env.MOCK_USERS ?? 500));
const issuer = `http://127.0.0.1:${port}`;

const server = new OAuth2Server(undefined, undefined, { shouldIssuerUrlBeSuffixedWithATralingSlash: false });
server.issuer.url = issuer; // start() keeps a preset URL (it would otherwise say "localhost")
await server.issuer.keys.generate('RS256');

const service = server.service;
let tokenRequests = 0;
const seen = new Set();
// One user per token request: the same user goes into the access token and the ID token,
// which are signed one after the other for the same request object.
const userOf = new WeakMap();

service.on('beforeTokenSigning', (token, req) => {
  let user = userOf.get(req);
  if (user === undefined) {
    const n = Math.floor(Math.random() * userCount);
    user = { sub: `bench-user-${n}`, email: `bench-user-${n}@bench.test`, name: `Bench User ${n}` };
    userOf.set(req, user);
    tokenRequests += 1;
    seen.add(n);
  }
  token.payload.sub = user.sub;
  token.payload.email = user.email;
  token.payload.email_verified = true;
  token.payload.name = user.name;
  // Every profile claim doorman uses is in the ID token, as Google's are: no UserInfo request
  // (the mock's /userinfo would answer for "johndoe", and doorman would refuse the sign-in).
  token.payload.picture = `https://bench.test/${user.sub}.png`;
});

service.on('beforeAuthorizeRedirect', (redirect) => {
  redirect.url.searchParams.set('iss', issuer);
});

const handler = service.requestHandler;
const httpServer = http.createServer((req, res) => {
  if (req.url === '/bench/stats') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ token_requests: tokenRequests, distinct_users: seen.size, user_pool: userCount }));
    return;
  }
  if (req.url === '/.well-known/openid-configuration') {
    // An own property survives express swapping the response's prototype.
    res.json = function json(body) {
      const extended = {
        ...body,
        // The mock says "none" but accepts Basic auth, which is what the app sends.
        token_endpoint_auth_methods_supported: ['client_secret_basic'],
        authorization_response_iss_parameter_supported: true,
      };
      this.setHeader('content-type', 'application/json; charset=utf-8');
      this.end(JSON.stringify(extended));
      return this;
    };
  }
  handler(req, res);
});
httpServer.keepAliveTimeout = 30_000;
httpServer.listen(port, '127.0.0.1', () => {
  console.log(`mock provider ${issuer} (RS256, ${userCount} users)`);
});

const stop = () => httpServer.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
