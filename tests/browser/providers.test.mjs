// Several sign-in providers, one account, in headless Chromium: the sign-in page's buttons (on a
// phone too), an account joined by a verified email, and connecting and disconnecting a method
// from /account.
//
// scripts/test starts a third app with PROVIDERS=google,corp,github and passes its address as
// PROVIDERS_APP_URL: `google` is the first local provider (dev/idp), `corp` ("Corp SSO", with
// PROVIDER_CORP_LINK_BY_EMAIL=true) the second one (the one that serves the profile from UserInfo
// only), and `github` points at a closed loopback port: only its button is checked here. As in
// the other files, the providers' URLs are never named: the test follows the app's redirects.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  TEST_OPTIONS,
  assertGreeted,
  chatUser,
  expectedEmail,
  freshPageWithScreenshot,
  signInAtProvider,
  uniqueLogin,
  useBrowser,
} from './helpers.mjs';

const PROVIDERS_APP_URL = process.env.PROVIDERS_APP_URL;
const SKIP = PROVIDERS_APP_URL ? false : 'PROVIDERS_APP_URL is not set (scripts/test sets it)';
const OPTIONS = { ...TEST_OPTIONS, skip: SKIP };

const ORIGIN = PROVIDERS_APP_URL ? new URL(PROVIDERS_APP_URL).origin : '';
const at = (path) => new URL(path, ORIGIN).href;

// The providers as PROVIDERS lists them, with the labels the app is configured with.
const PROVIDERS = [
  { id: 'google', name: 'Google' },
  { id: 'corp', name: 'Corp SSO' },
  { id: 'github', name: 'GitHub' },
];

// An iPhone SE-sized screen.
const PHONE = { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const MIN_TAP_HEIGHT = 40;

useBrowser();

// The rows of /account as data.
async function identityRows(page) {
  return page.locator('ul.identities > li.identity').evaluateAll((items) =>
    items.map((li) => ({
      provider: li.dataset.provider,
      id: li.dataset.identityId,
      name: li.querySelector('strong')?.textContent.trim(),
      current: li.querySelector('.badge')?.textContent.trim() === 'This session',
      text: li.textContent.replace(/\s+/g, ' ').trim(),
      disconnect: li.querySelectorAll('button').length,
    })),
  );
}

// The Connect buttons under "Connect another", as data-provider ids.
const connectButtons = (page) =>
  page.locator('form[action^="/account/connect/"] button').evaluateAll((bs) => bs.map((b) => b.dataset.provider));

// On the provider's login form (not on the app), signs in as `login`; returns the form's origin.
async function signInAtProviderAs(page, login) {
  await page.locator('input[name="login"]').waitFor({ state: 'visible' });
  const origin = new URL(page.url()).origin;
  assert.notEqual(origin, ORIGIN, `the login form should be the provider’s, not the app’s: ${page.url()}`);
  await signInAtProvider(page, login);
  return origin;
}

// From the signed-out home page: "Sign in", then "Continue with {name}" on the sign-in page, then
// the provider's form; waits for FRONTEND_URL (/chat). Returns the provider form's origin.
async function signInFromHome(page, providerName, login) {
  await page.goto(at('/'));
  await page.getByRole('link', { name: 'Sign in', exact: true }).click();
  await page.waitForURL((url) => url.origin === ORIGIN && url.pathname === '/login');
  await page.getByRole('link', { name: `Continue with ${providerName}` }).click();
  const providerOrigin = await signInAtProviderAs(page, login);
  await page.waitForURL(at('/chat'));
  return providerOrigin;
}

async function openAccountFromHome(page) {
  await page.goto(at('/'));
  await page.getByRole('link', { name: 'Sign-in methods' }).click();
  await page.waitForURL(at('/account'));
  await page.getByRole('heading', { name: 'Sign-in methods' }).waitFor({ state: 'visible' });
}

describe('several sign-in providers in a real browser', () => {
  test('the sign-in page offers Google, Corp SSO and GitHub in order, readable on a phone', OPTIONS, async (t) => {
    const { context, page, consoleErrors } = await freshPageWithScreenshot(t, 'providers-login-page', PHONE);

    const response = await page.goto(at('/login'));
    assert.equal(response.status(), 200, 'with several providers /login is a page, not a redirect');
    assert.equal(new URL(page.url()).origin, ORIGIN, 'the browser stays on the app');
    assert.equal((await page.locator('h1').innerText()).trim(), 'Sign in');

    const buttons = page.locator('ul.providers > li > a.button.provider');
    const found = await buttons.evaluateAll((as) =>
      as.map((a) => ({ id: a.dataset.provider, text: a.textContent.trim(), href: a.getAttribute('href') })),
    );
    assert.deepEqual(
      found,
      PROVIDERS.map(({ id, name }) => ({ id, text: `Continue with ${name}`, href: `${ORIGIN}/login/${id}` })),
      'one button per provider, in PROVIDERS order, each to /login/{id} at the app’s origin',
    );

    const width = PHONE.viewport.width;
    for (const { id, name } of PROVIDERS) {
      const button = page.getByRole('link', { name: `Continue with ${name}` });
      assert.ok(await button.isVisible(), `the ${name} button is visible`);
      const hasClass = await button.evaluate((a, cls) => a.classList.contains(cls), `provider-${id}`);
      assert.ok(hasClass, `the ${name} button has the class provider-${id}`);
      const box = await button.boundingBox();
      assert.ok(box.height >= MIN_TAP_HEIGHT, `the ${name} button is ${box.height}px tall, at least ${MIN_TAP_HEIGHT}`);
      assert.ok(
        box.x >= 0 && box.x + box.width <= width,
        `the ${name} button (x ${box.x}, width ${box.width}) fits the ${width}px screen`,
      );
    }
    const pageWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(pageWidth <= width, `the page does not scroll sideways on a phone (${pageWidth}px wide)`);

    // The same list as JSON, with `next` carried into each login URL.
    const json = await context.request.get(at('/login?next=/chat'), {
      headers: { Accept: 'application/json' },
      maxRedirects: 0,
    });
    assert.equal(json.status(), 200);
    assert.match(json.headers()['content-type'] ?? '', /^application\/json/);
    const { providers } = await json.json();
    assert.ok(Array.isArray(providers), `{"providers": [...]}: ${JSON.stringify(providers)}`);
    assert.deepEqual(
      providers.map(({ id, name }) => ({ id, name })),
      PROVIDERS,
      'the JSON lists the same providers in the same order',
    );
    for (const { id, login_url: loginUrl } of providers) {
      const url = new URL(loginUrl);
      assert.equal(url.origin + url.pathname, `${ORIGIN}/login/${id}`, `login_url of ${id}: ${loginUrl}`);
      assert.equal(url.searchParams.get('next'), '/chat', `login_url of ${id} keeps next: ${loginUrl}`);
    }
    assert.deepEqual(consoleErrors, []);
  });

  test(
    'signing in with Corp SSO with the verified email of a Google account joins that account',
    OPTIONS,
    async (t) => {
      // The provider takes a login with "@" as the (verified) email, lower-cased; `sub` is the login
      // as typed. So the two sign-ins share the email but not the subject: only the email links them.
      const local = uniqueLogin();
      const googleLogin = `${local}@corp-example.test`;
      const corpLogin = `${local.toUpperCase()}@Corp-Example.test`;
      assert.equal(expectedEmail(corpLogin), expectedEmail(googleLogin));

      const laptop = await freshPageWithScreenshot(t, 'providers-link-google');
      const googleOrigin = await signInFromHome(laptop.page, 'Google', googleLogin);
      await assertGreeted(laptop.page, googleLogin);
      const googleUser = await chatUser(laptop.context, ORIGIN);
      assert.equal(googleUser.user_email, expectedEmail(googleLogin));

      // Another browser (an empty cookie jar), the other provider.
      const phone = await freshPageWithScreenshot(t, 'providers-link-corp');
      const corpOrigin = await signInFromHome(phone.page, 'Corp SSO', corpLogin);
      assert.notEqual(corpOrigin, googleOrigin, 'Corp SSO is another provider than Google');
      await assertGreeted(phone.page, corpLogin);
      const corpUser = await chatUser(phone.context, ORIGIN);
      assert.equal(
        corpUser.user_id,
        googleUser.user_id,
        `Corp SSO with the same verified email signs in to the Google account ${googleUser.user_id}, ` +
          `not to a new one (${corpUser.user_id})`,
      );

      await openAccountFromHome(phone.page);
      const rows = await identityRows(phone.page);
      assert.deepEqual(
        rows.map((r) => `${r.provider}:${r.name}`).sort(),
        ['corp:Corp SSO', 'google:Google'],
        `the account lists both sign-in methods: ${JSON.stringify(rows)}`,
      );
      const byProvider = Object.fromEntries(rows.map((r) => [r.provider, r]));
      assert.equal(byProvider.corp.current, true, 'the Corp SSO identity is this session’s');
      assert.equal(byProvider.google.current, false, 'the Google one is not');
      for (const row of rows) {
        assert.ok(row.text.includes(expectedEmail(googleLogin)), `the ${row.name} row shows the email: ${row.text}`);
        assert.equal(row.disconnect, 1, `with two methods, ${row.name} can be disconnected`);
      }
      assert.deepEqual(await connectButtons(phone.page), ['github'], 'only GitHub is left to connect');

      await phone.page.getByRole('link', { name: 'Your sessions' }).click();
      await phone.page.waitForURL(at('/sessions'));
      const sessions = await phone.page.locator('li.session').evaluateAll((items) =>
        items.map((li) => ({
          current: li.classList.contains('current'),
          provider: li.querySelector('.provider')?.textContent.trim(),
          text: li.textContent.replace(/\s+/g, ' ').trim(),
        })),
      );
      const current = sessions.filter((s) => s.current);
      assert.equal(current.length, 1, `one current session: ${JSON.stringify(sessions)}`);
      assert.equal(current[0].provider, 'Corp SSO', 'this session was signed in with Corp SSO');
      assert.match(current[0].text, /signed in with Corp SSO/);
      assert.deepEqual(
        sessions.map((s) => s.provider).sort(),
        ['Corp SSO', 'Google'],
        'the Google session of the other browser is the same account’s',
      );
    },
  );

  test(
    'a Google user connects Corp SSO from /account, then disconnects it again; the last method stays',
    OPTIONS,
    async (t) => {
      const { context, page, consoleErrors } = await freshPageWithScreenshot(t, 'providers-connect');
      const googleLogin = uniqueLogin();
      // Another person's email at Corp SSO: email linking plays no part in connecting.
      const corpLogin = uniqueLogin();

      await signInFromHome(page, 'Google', googleLogin);
      const before = await chatUser(context, ORIGIN);
      await openAccountFromHome(page);
      let rows = await identityRows(page);
      assert.deepEqual(
        rows.map((r) => [r.provider, r.name, r.current, r.disconnect]),
        [['google', 'Google', true, 0]],
        `a new account has its one Google method, which cannot be disconnected: ${JSON.stringify(rows)}`,
      );
      assert.deepEqual(await connectButtons(page), ['corp', 'github'], 'Corp SSO and GitHub can be connected');

      const connect = page.getByRole('button', { name: 'Connect Corp SSO' });
      assert.ok(await connect.isVisible(), 'a "Connect Corp SSO" button');
      await connect.click();
      // The form posts to the app, which answers 303 to the provider: the page's CSP form-action
      // must let that redirect through (browsers apply it to a form's redirects too).
      await page.waitForURL((url) => url.origin !== ORIGIN).catch(() => {});
      const cspErrors = consoleErrors.filter((e) => /content security policy/i.test(e));
      assert.notEqual(
        new URL(page.url()).origin,
        ORIGIN,
        `"Connect Corp SSO" should take the browser to the provider, but it is still at ${page.url()}` +
          (cspErrors.length ? `; the browser says: ${cspErrors.join(' | ')}` : ''),
      );
      await signInAtProviderAs(page, corpLogin);
      await page.waitForURL(at('/account'));
      await page.getByRole('heading', { name: 'Sign-in methods' }).waitFor({ state: 'visible' });

      rows = await identityRows(page);
      assert.deepEqual(
        rows.map((r) => `${r.provider}:${r.name}`).sort(),
        ['corp:Corp SSO', 'google:Google'],
        `back on /account with Corp SSO connected: ${JSON.stringify(rows)}`,
      );
      const corpRow = rows.find((r) => r.provider === 'corp');
      assert.ok(corpRow.text.includes(expectedEmail(corpLogin)), `the Corp SSO row shows its email: ${corpRow.text}`);
      assert.equal(rows.find((r) => r.provider === 'google').current, true, 'this session is still the Google one');
      assert.deepEqual(await connectButtons(page), ['github'], 'Corp SSO is no longer offered to connect');
      assert.equal((await chatUser(context, ORIGIN)).user_id, before.user_id, 'still the same account');

      const removeUrl = at(`/account/identities/${corpRow.id}/remove`);
      const [removed] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && r.url() === removeUrl),
        page.getByRole('button', { name: 'Disconnect Corp SSO' }).click(),
      ]);
      assert.equal(removed.status(), 303, 'disconnecting answers with a redirect');
      await page.waitForURL(at('/account'));
      await page.locator(`li.identity[data-identity-id="${corpRow.id}"]`).waitFor({ state: 'detached' });
      rows = await identityRows(page);
      assert.deepEqual(
        rows.map((r) => [r.provider, r.name]),
        [['google', 'Google']],
        `only Google is left: ${JSON.stringify(rows)}`,
      );
      assert.equal(
        await page.getByRole('button', { name: /^Disconnect/ }).count(),
        0,
        'the last method has no Disconnect button',
      );
      assert.deepEqual(await connectButtons(page), ['corp', 'github'], 'Corp SSO can be connected again');
      assert.equal((await chatUser(context, ORIGIN)).user_id, before.user_id, 'and the account is still there');
    },
  );
});
