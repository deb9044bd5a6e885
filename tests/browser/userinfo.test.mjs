// Signing in at a provider that keeps the profile out of its ID tokens: oidc-provider in its
// default claims configuration (IDP_CONFORM_ID_TOKEN_CLAIMS=1), where email and profile come
// from the userinfo endpoint only (OpenID Connect Core §5.4). scripts/test starts a second app
// against that provider and passes its address as CONFORM_APP_URL.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { TEST_OPTIONS, assertGreeted, freshPage, signInAtProvider, uniqueLogin, useBrowser } from './helpers.mjs';

const CONFORM_APP_URL = process.env.CONFORM_APP_URL;

useBrowser();

describe('a provider that serves the profile from UserInfo only', () => {
  test(
    'a user signs in and lands on /chat greeted by name, with a verified email',
    { ...TEST_OPTIONS, skip: CONFORM_APP_URL ? false : 'CONFORM_APP_URL is not set (scripts/test sets it)' },
    async (t) => {
      const { context, page, consoleErrors } = await freshPage(t);
      const login = uniqueLogin();
      const chatUrl = new URL('/chat', CONFORM_APP_URL).href;
      await page.goto(new URL('/', CONFORM_APP_URL).href);
      await page.getByRole('link', { name: 'Login with Google' }).click();
      await signInAtProvider(page, login);
      // REQUIRE_EMAIL_VERIFIED is on (the default): landing here means the verified flag arrived.
      await page.waitForURL(chatUrl);
      await assertGreeted(page, login);
      // The page's CSP allows no fetch; the context's request client carries its cookies.
      const response = await context.request.get(chatUrl, { headers: { Accept: 'application/json' } });
      assert.equal(response.status(), 200);
      const { user } = await response.json();
      assert.equal(user.user_email, `${login}@example.test`);
      assert.ok(user.picture, 'the picture came from UserInfo too');
      assert.deepEqual(consoleErrors, []);
    },
  );
});
