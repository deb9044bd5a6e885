// End-to-end test of doorman's login flow in headless Chromium (playwright-core, no bundled browser):
// signing in, the cookies, a session that outlives its access token, logging out.
//
// Needs a running app (APP_URL, default http://127.0.0.1:8000) that is configured against the
// local dev provider (dev/idp) and started as scripts/test does (ACCESS_TOKEN_TTL_SECONDS=1).
// The provider's URL is never named here: the test follows the app's redirects to wherever it
// points. Run with `npm test` in this directory (every *.test.mjs); CHROMIUM overrides the browser
// binary (default /usr/bin/chromium). Shared helpers are in helpers.mjs.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { describe, test } from 'node:test';

import {
  ACCESS_COOKIE,
  ACCESS_TOKEN_DEAD_AFTER_MS,
  APP_ORIGIN,
  APP_URL,
  ARTIFACTS,
  CHAT_URL,
  HOME_URL,
  REFRESH_COOKIE,
  TEST_OPTIONS,
  accessCookie,
  appCookie,
  assertGreeted,
  assertSentToLogin,
  cookiesSetBy,
  freshPage,
  isAppResponse,
  jwtPayload,
  redirectChain,
  signInAtProvider,
  sleepUntil,
  uniqueLogin,
  useBrowser,
} from './helpers.mjs';

useBrowser();

describe('doorman login in a real browser', () => {
  test(
    'a user clicks Login, signs in, lands on /chat greeted by name, stays in after reload, logs out',
    TEST_OPTIONS,
    async (t) => {
      const { context, page, consoleErrors } = await freshPage(t);
      const login = uniqueLogin();

      await page.goto(HOME_URL);
      await page.getByRole('link', { name: 'Login with Google' }).click();
      const callback = page.waitForResponse(isAppResponse('/auth'));
      await signInAtProvider(page, login);
      const issued = await cookiesSetBy(await callback);
      await page.waitForURL(CHAT_URL);
      await assertGreeted(page, login);

      // The access cookie lives for a second (ACCESS_TOKEN_TTL_SECONDS=1), so its attributes are
      // read from the callback that set it; the refresh cookie lasts and is checked in the jar too.
      for (const name of [ACCESS_COOKIE, REFRESH_COOKIE]) {
        const cookie = issued.get(name);
        assert.ok(cookie?.value, `the sign-in callback set a ${name} cookie`);
        assert.equal(cookie.attributes.httponly, true, `${name} is HttpOnly`);
        assert.equal(cookie.attributes.samesite, 'Lax', `${name} is SameSite=Lax`);
        assert.equal(cookie.attributes.path, '/', `${name} has Path=/`);
      }
      const refresh = await appCookie(context, REFRESH_COOKIE);
      assert.equal(refresh?.value, issued.get(REFRESH_COOKIE).value, 'the browser keeps refresh_token');
      assert.equal(refresh.httpOnly, true, 'refresh_token is HttpOnly in the jar');
      assert.equal(refresh.sameSite, 'Lax', 'refresh_token is SameSite=Lax in the jar');
      assert.equal(refresh.path, '/');
      const scriptCookies = await page.evaluate(() => document.cookie);
      for (const name of [ACCESS_COOKIE, REFRESH_COOKIE]) {
        assert.ok(!scriptCookies.includes(name), `page scripts must not see ${name}: ${scriptCookies}`);
      }

      // The provider's avatar is an inline SVG, so it shows with no network at all.
      const avatar = page.locator('img.avatar');
      assert.match((await avatar.getAttribute('src')) ?? '', /^data:image\/svg\+xml;base64,/, 'the avatar is inline');
      assert.ok(
        await avatar.evaluate((img) => img.complete && img.naturalWidth > 0),
        'the avatar image loaded (not a broken image)',
      );

      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: `${ARTIFACTS}chat.png`, fullPage: true });

      await page.reload();
      assert.equal(page.url(), CHAT_URL, 'a reload stays on /chat');
      await assertGreeted(page, login);

      // Logging out ends the session here, then at the provider (RP-initiated logout: the
      // provider publishes an end_session_endpoint), which asks to confirm and sends the
      // browser back home.
      const [logoutResponse] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/logout'),
        page.getByRole('button', { name: 'Log out' }).click(),
      ]);
      assert.equal(logoutResponse.status(), 303, 'POST /logout answers 303');
      const endSession = new URL(logoutResponse.headers().location);
      assert.equal(endSession.pathname, '/session/end', `logout goes to the provider's end-session endpoint: ${endSession}`);
      assert.equal(endSession.searchParams.get('post_logout_redirect_uri'), HOME_URL);
      assert.ok(endSession.searchParams.get('id_token_hint'), 'with the ID token as a hint');
      await page.getByRole('button', { name: /sign me out/i }).click();
      await page.waitForURL(HOME_URL);
      await assert.doesNotReject(
        page.getByRole('link', { name: 'Login with Google' }).waitFor({ state: 'visible' }),
        'home shows the login link after logging out',
      );
      assert.equal(await accessCookie(context), undefined, 'logging out removes access_token');
      assert.equal(await appCookie(context, REFRESH_COOKIE), undefined, 'logging out removes refresh_token');

      // The provider's session ended too: /chat sends the browser to the provider's login page,
      // not straight back in.
      const signedInAgain = await assertSentToLogin(await page.goto(CHAT_URL), CHAT_URL);
      assert.equal(signedInAgain, false, 'the provider forgot this browser');
      assert.equal(await page.locator('#greeting').count(), 0, 'no greeting without signing in again');
      await page.locator('input[name="login"]').waitFor({ state: 'visible' });

      const csp = consoleErrors.filter((e) => /content security policy/i.test(e));
      assert.deepEqual(csp, [], 'no Content-Security-Policy violations');
    },
  );

  test(
    'an idle user stays signed in after the access token expired: the session rolls on the refresh token',
    TEST_OPTIONS,
    async (t) => {
      const { context, page } = await freshPage(t);
      const login = uniqueLogin();

      await page.goto(CHAT_URL);
      const callback = page.waitForResponse(isAppResponse('/auth'));
      await signInAtProvider(page, login);
      const callbackResponse = await callback;
      const signedInAt = Date.now();
      const issued = await cookiesSetBy(callbackResponse);
      await page.waitForURL(CHAT_URL);
      await assertGreeted(page, login);
      const first = { access: issued.get(ACCESS_COOKIE)?.value, refresh: issued.get(REFRESH_COOKIE)?.value };
      assert.ok(first.access && first.refresh, 'signing in set both cookies');
      assert.equal((await appCookie(context, REFRESH_COOKIE))?.value, first.refresh);

      await sleepUntil(signedInAt + ACCESS_TOKEN_DEAD_AFTER_MS);
      const response = await page.reload();
      const hops = redirectChain(response).map((r) => r.url());
      assert.deepEqual(hops, [CHAT_URL], `the reload is answered in place, not through /login: ${hops.join(' -> ')}`);
      assert.equal(response.status(), 200);
      assert.equal(page.url(), CHAT_URL);
      await assertGreeted(page, login);

      // The same response renewed both cookies.
      const renewed = await cookiesSetBy(response);
      const second = { access: renewed.get(ACCESS_COOKIE)?.value, refresh: renewed.get(REFRESH_COOKIE)?.value };
      assert.ok(second.access, 'the reload set a new access_token');
      assert.ok(second.refresh, 'the reload rotated refresh_token');
      const jar = { access: await accessCookie(context), refresh: await appCookie(context, REFRESH_COOKIE) };
      assert.notEqual(second.access, first.access, 'access_token changed');
      assert.notEqual(jar.refresh?.value, first.refresh, 'refresh_token in the jar changed');
      assert.equal(jar.refresh?.value, second.refresh, 'the jar holds the rotated refresh_token');
      // access_token leaves the jar a second after it is set; while it is there it is the new one.
      if (jar.access) assert.equal(jar.access.value, second.access, 'the jar holds the new access_token');
      const [oldClaims, newClaims] = [jwtPayload(first.access), jwtPayload(second.access)];
      assert.equal(newClaims.sub, oldClaims.sub, 'the same user');
      assert.equal(newClaims.sid, oldClaims.sid, 'the same session, rolled');
      assert.ok(
        newClaims.iat >= oldClaims.iat + 6,
        `the new access token is new (iat ${oldClaims.iat} -> ${newClaims.iat})`,
      );
    },
  );

  test('a user who opens /chat first ends on /chat after logging in', TEST_OPTIONS, async (t) => {
    const { context, page } = await freshPage(t);
    const login = uniqueLogin();

    await page.goto(CHAT_URL);
    const callback = page.waitForResponse(isAppResponse('/auth'));
    await signInAtProvider(page, login);
    const issued = await cookiesSetBy(await callback);
    await page.waitForURL(CHAT_URL);
    await assertGreeted(page, login);
    assert.ok(issued.get(ACCESS_COOKIE)?.value, 'the app set an access_token cookie');
    assert.ok(await appCookie(context, REFRESH_COOKIE), 'the browser holds a refresh_token cookie');
  });

  test("the provider's access_denied brings a friendly page, no cookie", TEST_OPTIONS, async (t) => {
    const { context, page } = await freshPage(t);

    const response = await page.goto(new URL('/auth?error=access_denied&state=x', APP_URL).href);
    assert.equal(response.status(), 403);
    assert.equal(new URL(page.url()).origin, APP_ORIGIN, 'the browser stays on the app');
    assert.equal((await page.locator('h1').innerText()).trim(), "We couldn't sign you in");
    assert.ok(
      await page.getByRole('link', { name: 'Try signing in again' }).isVisible(),
      'the page offers to sign in again',
    );
    assert.equal(await accessCookie(context), undefined, 'no access_token cookie');
  });
});
