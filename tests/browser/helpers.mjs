// Shared helpers of the headless-browser tests (*.test.mjs in this directory).
//
// Each test file calls useBrowser() once at its top level: that launches Debian's Chromium
// (playwright-core, no bundled browser) before the file's tests and closes it after them.
// Every test then takes a freshPage(t): a new context (empty cookie jar) that can reach only
// loopback hosts. The app is at APP_URL (default http://127.0.0.1:8000) and is configured against
// the local dev provider (dev/idp); the provider's URL is never named here: tests follow the app's
// redirects to wherever it points. CHROMIUM overrides the browser binary (default /usr/bin/chromium).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { after, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const APP_URL = process.env.APP_URL || 'http://127.0.0.1:8000';
export const APP_ORIGIN = new URL(APP_URL).origin;
export const HOME_URL = new URL('/', APP_URL).href;
export const CHAT_URL = new URL('/chat', APP_URL).href;
export const SESSIONS_URL = new URL('/sessions', APP_URL).href;
export const LOGIN_URL = new URL('/login', APP_URL).href;
export const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));

export const STEP_TIMEOUT = 15_000;
export const TEST_OPTIONS = { timeout: 60_000 };
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

// scripts/test starts the app with ACCESS_TOKEN_TTL_SECONDS=1, and the app accepts an access token
// up to 5 s past its `exp`. 7.5 s after it was issued, an access token is dead for sure, whatever
// the rounding of `iat` to whole seconds: only the refresh token can keep the browser signed in.
export const ACCESS_TOKEN_DEAD_AFTER_MS = 7_500;

export const ACCESS_COOKIE = 'access_token';
export const REFRESH_COOKIE = 'refresh_token';

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// A login name no other test (or earlier run) uses, so tests do not depend on each other.
export const uniqueLogin = () => `browser-${randomBytes(5).toString('hex')}`;

// The dev provider's naming rule (humanName in dev/idp/server.mjs): the part before any "@",
// split on . _ - + and whitespace, each word with its first letter upper-cased and the rest
// lower-cased, joined by spaces. "browser-3fa9c0" -> "Browser 3fa9c0".
export function expectedDisplayName(login) {
  return login
    .split('@')[0]
    .split(/[._\-+\s]+/)
    .filter(Boolean)
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1).toLowerCase())
    .join(' ');
}
export const expectedEmail = (login) => (login.includes('@') ? login : `${login}@example.test`).toLowerCase();

export const sleepUntil = (epochMs) => sleep(Math.max(0, epochMs - Date.now()));

let browser;

// Launches Chromium for the calling test file; call once, at the file's top level.
export function useBrowser() {
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
}

// A fresh context (empty cookie jar) that can only reach loopback hosts, plus one page in it.
// `contextOptions` go to browser.newContext (a userAgent, say). Console errors and blocked
// requests are collected for the test to check or report.
export async function freshPage(t, contextOptions = {}) {
  const context = await browser.newContext(contextOptions);
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
  return { context, page, consoleErrors, blocked };
}

// One of the app's cookies as the browser holds it now, or undefined.
export async function appCookie(context, name) {
  return (await context.cookies(APP_URL)).find((c) => c.name === name);
}
export const accessCookie = (context) => appCookie(context, ACCESS_COOKIE);

// The cookies a response sets, by name: { value, attributes } with attribute names lower-cased
// ("httponly" -> true, "samesite" -> "Lax", "max-age" -> "1", ...).
//
// With ACCESS_TOKEN_TTL_SECONDS=1 the app gives access_token Max-Age=1, so the browser drops it a
// second after it arrives and the jar cannot be relied on to still hold it: what the app issued
// is read from the response that set it.
export async function cookiesSetBy(response) {
  const set = new Map();
  for (const line of await response.headerValues('set-cookie')) {
    const [pair, ...attrs] = line.split(';').map((s) => s.trim());
    const eq = pair.indexOf('=');
    const attributes = {};
    for (const attr of attrs) {
      const [key, ...value] = attr.split('=');
      attributes[key.trim().toLowerCase()] = value.length ? value.join('=').trim() : true;
    }
    set.set(pair.slice(0, eq), { value: pair.slice(eq + 1), attributes });
  }
  return set;
}

// The payload of a JWT, not verified (for looking at `iat`, `exp`, `sid`).
export const jwtPayload = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

// A response of the app itself whose path is `pathname` (the callback is /auth, as is the
// provider's authorization endpoint, so the origin matters).
export const isAppResponse = (pathname) => (r) => {
  const url = new URL(r.url());
  return url.origin === APP_ORIGIN && url.pathname === pathname;
};

// Waits for the provider's login form (on another origin than the app) and signs in there.
export async function signInAtProvider(page, login) {
  const loginBox = page.locator('input[name="login"]');
  await loginBox.waitFor({ state: 'visible' });
  assert.notEqual(new URL(page.url()).origin, APP_ORIGIN, 'the login form should be the provider’s, not the app’s');
  await loginBox.fill(login);
  await page.locator('input[name="password"]').fill('any password works');
  await page.getByRole('button', { name: 'Sign-in' }).click();
}

// Opens /chat in a browser that is not signed in, signs in at the provider as `login` and waits
// for /chat. Returns the app's /auth callback response (it sets the cookies) and when it arrived.
export async function signInViaChat(page, login) {
  await page.goto(CHAT_URL);
  const callback = page.waitForResponse(isAppResponse('/auth'));
  await signInAtProvider(page, login);
  const callbackResponse = await callback;
  const signedInAt = Date.now();
  await page.waitForURL(CHAT_URL);
  return { callbackResponse, signedInAt };
}

export async function assertGreeted(page, login) {
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
export function redirectChain(response) {
  const chain = [];
  for (let request = response.request(); request; request = request.redirectedFrom()) chain.unshift(request);
  return chain;
}

// Checks a navigation to the guarded `url` made by a browser the app no longer trusts: the app's
// first answer must be a 303 to /login?next=<path>, not the page. The provider still remembers the
// browser, so it may sign it straight back in; then the page may show again only after a fresh
// /auth callback. Returns whether the browser ended up signed in again.
export async function assertSentToLogin(response, url) {
  const chain = redirectChain(response);
  const hops = chain.map((r) => r.url()).join(' -> ');
  const first = chain[0];
  assert.equal(first.url(), url);
  const firstResponse = await first.response();
  assert.equal(firstResponse.status(), 303, `${url} must redirect, not show the page: ${hops}`);
  const loginUrl = new URL(firstResponse.headers().location, url);
  assert.equal(loginUrl.origin + loginUrl.pathname, LOGIN_URL, `${url} redirects to /login: ${hops}`);
  assert.equal(loginUrl.searchParams.get('next'), new URL(url).pathname, 'and comes back here after logging in');
  const providerHop = chain.findIndex((r) => new URL(r.url()).origin !== APP_ORIGIN);
  assert.ok(providerHop > 0, `the app sent the browser to the provider: ${hops}`);
  const signedInAgain = response.url() === url && response.status() === 200;
  if (signedInAgain) {
    const callbackAfterProvider = chain.slice(providerHop).some((r) => isAppResponse('/auth')(r));
    assert.ok(callbackAfterProvider, `${url} is shown again only after a fresh sign-in callback: ${hops}`);
  }
  return signedInAgain;
}

// freshPage(t), and a full-page screenshot `${ARTIFACTS}${name}-failure.png` of that page if the
// test fails. (The hook is registered before freshPage's, so it runs while the page is still open.)
export async function freshPageWithScreenshot(t, name, contextOptions = {}) {
  let page;
  t.after(async () => {
    if (t.passed || !page || page.isClosed()) return;
    const path = `${ARTIFACTS}${name}-failure.png`;
    try {
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path, fullPage: true });
      t.diagnostic(`screenshot of ${page.url()} at the failure: ${path}`);
    } catch (err) {
      t.diagnostic(`no screenshot of the failure: ${err.message}`);
    }
  });
  const made = await freshPage(t, contextOptions);
  page = made.page;
  return made;
}

// The signed-in user as the app at `appUrl` reports it (`/chat` with Accept: application/json),
// asked with the context's cookies (the pages' CSP allows no fetch). Fails unless signed in.
export async function chatUser(context, appUrl = APP_URL) {
  const response = await context.request.get(new URL('/chat', appUrl).href, {
    headers: { Accept: 'application/json' },
    maxRedirects: 0,
  });
  assert.equal(response.status(), 200, `GET /chat as JSON should answer 200 when signed in: ${response.url()}`);
  const { user } = await response.json();
  assert.match(user?.user_id ?? '', UUID_RE, `/chat names the user: ${JSON.stringify(user)}`);
  return user;
}
