// End-to-end test of doorman's login flow in headless Chromium (playwright-core, no bundled browser).
//
// Needs a running app (APP_URL, default http://127.0.0.1:8000) that is configured against the
// local dev provider (dev/idp). The provider's URL is never named here: the test follows the
// app's redirects to wherever it points. Run with `npm test` in this directory; CHROMIUM
// overrides the browser binary (default /usr/bin/chromium).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const APP_URL = process.env.APP_URL || 'http://127.0.0.1:8000';
const APP_ORIGIN = new URL(APP_URL).origin;
const HOME_URL = new URL('/', APP_URL).href;
const CHAT_URL = new URL('/chat', APP_URL).href;
const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));

const STEP_TIMEOUT = 15_000;
const TEST_OPTIONS = { timeout: 60_000 };
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

// A login name no other test (or earlier run) uses, so tests do not depend on each other.
const uniqueLogin = () => `browser-${randomBytes(5).toString('hex')}`;

// The dev provider's naming rule (humanName in dev/idp/server.mjs): the part before any "@",
// split on . _ - + and whitespace, each word with its first letter upper-cased and the rest
// lower-cased, joined by spaces. "browser-3fa9c0" -> "Browser 3fa9c0".
function expectedDisplayName(login) {
  return login
    .split('@')[0]
    .split(/[._\-+\s]+/)
    .filter(Boolean)
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1).toLowerCase())
    .join(' ');
}
const expectedEmail = (login) => (login.includes('@') ? login : `${login}@example.test`).toLowerCase();

let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
});

after(async () => {
  await browser?.close();
});

// A fresh context (empty cookie jar) that can only reach loopback hosts, plus one page in it.
// Console errors and blocked requests are collected for the test to check or report.
async function freshPage(t) {
  const context = await browser.newContext();
  t.after(() => context.close());
  const blocked = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (LOOPBACK_HOSTS.has(url.hostname)) return route.continue();
    blocked.push(url.href);
    return route.abort('blockedbyclient');
  });
  context.setDefaultNavigationTimeout(STEP_TIMEOUT);
  context.setDefaultTimeout(STEP_TIMEOUT);
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(`${page.url()}: ${msg.text()}`);
  });
  t.after(() => {
    if (blocked.length) t.diagnostic(`blocked non-loopback requests: ${[...new Set(blocked)].join(', ')}`);
  });
  return { context, page, consoleErrors };
}

async function accessCookie(context) {
  return (await context.cookies(APP_URL)).find((c) => c.name === 'access_token');
}

// Waits for the provider's login form (on another origin than the app) and signs in there.
async function signInAtProvider(page, login) {
  const loginBox = page.locator('input[name="login"]');
  await loginBox.waitFor({ state: 'visible' });
  assert.notEqual(new URL(page.url()).origin, APP_ORIGIN, 'the login form should be the provider’s, not the app’s');
  await loginBox.fill(login);
  await page.locator('input[name="password"]').fill('any password works');
  await page.getByRole('button', { name: 'Sign-in' }).click();
}

async function assertGreeted(page, login) {
  await assert.doesNotReject(
    page.locator('#greeting').waitFor({ state: 'visible' }),
    `expected the /chat greeting at ${page.url()}`,
  );
  const greeting = await page.locator('#greeting').innerText();
  assert.ok(
    greeting.includes(expectedDisplayName(login)),
    `greeting ${JSON.stringify(greeting)} should name ${JSON.stringify(expectedDisplayName(login))}`,
  );
  assert.ok((await page.locator('main').innerText()).includes(expectedEmail(login)), 'the page shows the email');
}

// The requests a navigation went through, first to last (the goto's URL first).
function redirectChain(response) {
  const chain = [];
  for (let request = response.request(); request; request = request.redirectedFrom()) chain.unshift(request);
  return chain;
}

describe('doorman login in a real browser', () => {
  test(
    'a user clicks Login, signs in, lands on /chat greeted by name, stays in after reload, logs out',
    TEST_OPTIONS,
    async (t) => {
      const { context, page, consoleErrors } = await freshPage(t);
      const login = uniqueLogin();

      await page.goto(HOME_URL);
      await page.getByRole('link', { name: 'Login with Google' }).click();
      await signInAtProvider(page, login);
      await page.waitForURL(CHAT_URL);
      await assertGreeted(page, login);

      const cookie = await accessCookie(context);
      assert.ok(cookie, 'the app set an access_token cookie');
      assert.equal(cookie.httpOnly, true, 'access_token is HttpOnly');
      assert.equal(cookie.sameSite, 'Lax', 'access_token is SameSite=Lax');
      assert.equal(cookie.path, '/');
      const scriptCookies = await page.evaluate(() => document.cookie);
      assert.ok(!scriptCookies.includes('access_token'), `page scripts must not see access_token: ${scriptCookies}`);

      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: `${ARTIFACTS}chat.png`, fullPage: true });

      await page.reload();
      assert.equal(page.url(), CHAT_URL, 'a reload stays on /chat');
      await assertGreeted(page, login);

      const [logoutResponse] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/logout'),
        page.getByRole('button', { name: 'Log out' }).click(),
      ]);
      await page.waitForLoadState();
      assert.equal(
        page.url(),
        HOME_URL,
        `logging out should land on the home page; POST /logout answered ${logoutResponse.status()} and the ` +
          `browser is at ${page.url()} showing ${JSON.stringify(await page.locator('main').innerText().catch(() => ''))}`,
      );
      await assert.doesNotReject(
        page.getByRole('link', { name: 'Login with Google' }).waitFor({ state: 'visible' }),
        'home shows the login link after logging out',
      );
      assert.equal(await accessCookie(context), undefined, 'logging out removes access_token');

      // The provider still remembers this browser, so going on to the provider may sign it straight
      // back in. What matters is that the app itself refuses /chat without the cookie and sends the
      // browser through the provider and a new callback before it shows /chat again.
      const response = await page.goto(CHAT_URL);
      const chain = redirectChain(response);
      const first = chain[0];
      assert.equal(first.url(), CHAT_URL);
      const firstResponse = await first.response();
      assert.equal(firstResponse.status(), 303, '/chat without a cookie redirects');
      const loginUrl = new URL(firstResponse.headers().location, CHAT_URL);
      assert.equal(loginUrl.origin + loginUrl.pathname, new URL('/login', APP_URL).href);
      assert.equal(loginUrl.searchParams.get('next'), '/chat');
      const providerHop = chain.findIndex((r) => new URL(r.url()).origin !== APP_ORIGIN);
      assert.ok(providerHop > 0, `the app sent the browser to the provider: ${chain.map((r) => r.url()).join(' -> ')}`);
      if (page.url() === CHAT_URL) {
        const callbackAfterProvider = chain
          .slice(providerHop)
          .some((r) => new URL(r.url()).origin === APP_ORIGIN && new URL(r.url()).pathname === '/auth');
        assert.ok(callbackAfterProvider, '/chat is shown again only after a fresh sign-in callback');
        t.diagnostic('after logout the provider signed the browser straight back in (its own session survives)');
      } else {
        assert.equal(await page.locator('#greeting').count(), 0, 'no greeting without signing in again');
        await page.locator('input[name="login"]').waitFor({ state: 'visible' });
      }

      const csp = consoleErrors.filter((e) => /content security policy/i.test(e));
      assert.deepEqual(csp, [], 'no Content-Security-Policy violations');
    },
  );

  test('a user who opens /chat first ends on /chat after logging in', TEST_OPTIONS, async (t) => {
    const { context, page } = await freshPage(t);
    const login = uniqueLogin();

    await page.goto(CHAT_URL);
    await signInAtProvider(page, login);
    await page.waitForURL(CHAT_URL);
    await assertGreeted(page, login);
    assert.ok(await accessCookie(context), 'the app set an access_token cookie');
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
