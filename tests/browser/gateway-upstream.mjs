// The app behind the gateway in tests/deploy/gateway-test.sh (not a test file itself): answers
// every request with what it learned about the caller as JSON, after verifying
// X-Auth-Request-Jwt the way the README tells an upstream to (jose, doorman's JWKS, audience =
// the host it is reached at, issuer = doorman's public origin). Environment: PORT, NAME,
// JWKS_URL, ISSUER.
import { createServer } from 'node:http';

import { createRemoteJWKSet, jwtVerify } from 'jose';

const { PORT, NAME, JWKS_URL, ISSUER } = process.env;
const jwks = createRemoteJWKSet(new URL(JWKS_URL));

createServer(async (req, res) => {
  const answer = {
    app: NAME,
    path: req.url,
    user: req.headers['x-auth-request-user'] ?? null,
    email: req.headers['x-auth-request-email'] ?? null,
    cookie: req.headers.cookie ?? null,
  };
  try {
    const { payload } = await jwtVerify(req.headers['x-auth-request-jwt'] ?? '', jwks, {
      issuer: ISSUER,
      audience: req.headers.host,
    });
    Object.assign(answer, { verified: true, jwt_sub: payload.sub, jwt_aud: payload.aud, jwt_type: payload.type });
  } catch (e) {
    Object.assign(answer, { verified: false, why: String(e.code ?? e.message) });
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(answer));
}).listen(Number(PORT), '127.0.0.1');
