// The access token a browser gets is an EdDSA JWT that anyone can check against the app's
// published keys (GET /.well-known/jwks.json), here with the `jose` library.
//
// Needs the app started as scripts/test does (ACCESS_TOKEN_TTL_SECONDS=1 and
// JWT_PRIVATE_KEY_FILE=tests/fixtures/access_ed25519.pem); see helpers.mjs.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { createLocalJWKSet, errors, jwtVerify } from 'jose';

import {
  APP_URL,
  CHAT_URL,
  TEST_OPTIONS,
  UUID_RE,
  accessCookie,
  expectedDisplayName,
  expectedEmail,
  freshPage,
  signInViaChat,
  uniqueLogin,
  useBrowser,
} from './helpers.mjs';

useBrowser();

const JWKS_URL = new URL('/.well-known/jwks.json', APP_URL).href;
// The app's own leeway past `exp`: the token read from the browser is a second old at most, but
// it only lives for one.
const CLOCK_TOLERANCE_SECONDS = 5;

// access_token as the browser holds it. The cookie leaves the jar a second after it is set
// (Max-Age=1), so if it is gone, /chat is loaded again: that renews it, and it is read at once.
async function accessTokenFromBrowser(page, context) {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const cookie = await accessCookie(context);
    if (cookie) return cookie.value;
    await page.goto(CHAT_URL);
  }
  assert.fail('the browser never held an access_token cookie long enough to read it');
}

// The same token with one bit of its signature flipped (a byte, not a base64url character: the
// last character of a segment can change without changing the bytes).
function withFlippedSignature(jwt) {
  const [header, payload, signature] = jwt.split('.');
  const bytes = Buffer.from(signature, 'base64url');
  bytes[0] ^= 0x01;
  return [header, payload, bytes.toString('base64url')].join('.');
}

async function getChatAsApi(token) {
  const response = await fetch(CHAT_URL, {
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
    redirect: 'manual',
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

describe('doorman access tokens against its JWKS', () => {
  test('the browser’s access token verifies with jose against /.well-known/jwks.json', TEST_OPTIONS, async (t) => {
    const { context, page } = await freshPage(t);
    const login = uniqueLogin();
    await signInViaChat(page, login);
    const token = await accessTokenFromBrowser(page, context);

    const jwksResponse = await fetch(JWKS_URL);
    assert.equal(jwksResponse.status, 200);
    assert.match(jwksResponse.headers.get('content-type') ?? '', /^application\/json/);
    const jwks = await jwksResponse.json();
    assert.ok(Array.isArray(jwks.keys) && jwks.keys.length > 0, `keys: ${JSON.stringify(jwks)}`);
    for (const key of jwks.keys) {
      assert.equal(key.d, undefined, `the JWKS publishes no private key material: ${JSON.stringify(key)}`);
    }

    const keySet = createLocalJWKSet(jwks);
    const options = {
      algorithms: ['EdDSA'],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['iat', 'exp', 'sub'],
    };
    const { payload, protectedHeader } = await jwtVerify(token, keySet, options);

    assert.equal(protectedHeader.alg, 'EdDSA');
    assert.ok(
      jwks.keys.some((k) => k.kid === protectedHeader.kid),
      `header kid ${protectedHeader.kid} is in the set (${jwks.keys.map((k) => k.kid).join(', ')})`,
    );
    assert.equal(payload.type, 'access');
    assert.match(payload.sub, UUID_RE, 'sub is the app’s user id, a UUID');
    assert.equal(payload.exp - payload.iat, 1, 'ACCESS_TOKEN_TTL_SECONDS=1');
    assert.equal(payload.email, expectedEmail(login));
    assert.equal(payload.name, expectedDisplayName(login));

    const tampered = withFlippedSignature(token);
    assert.notEqual(tampered, token);
    await assert.rejects(jwtVerify(tampered, keySet, options), errors.JWSSignatureVerificationFailed);

    // The app agrees with jose: the token as issued is accepted as a bearer token (it is within the
    // app's leeway still), the tampered one is refused.
    const accepted = await getChatAsApi(token);
    assert.equal(accepted.status, 200, `the app accepts its own token: ${JSON.stringify(accepted.body)}`);
    assert.equal(accepted.body?.user?.user_id, payload.sub);
    const refused = await getChatAsApi(tampered);
    assert.equal(refused.status, 401, `the app refuses the tampered token: ${JSON.stringify(refused.body)}`);
    assert.equal(refused.body?.error, 'invalid_token');
  });
});
