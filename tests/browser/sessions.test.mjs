// End-to-end test of doorman's sessions page in headless Chromium: one person signed in on two
// devices (two browser contexts with their own cookie jars and user agents) sees both sessions,
// ends the other one from here, and that other browser is signed out at its next refresh.
//
// Needs the app started as scripts/test does (ACCESS_TOKEN_TTL_SECONDS=1); see helpers.mjs.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { describe, test } from 'node:test';

import {
  ACCESS_TOKEN_DEAD_AFTER_MS,
  ARTIFACTS,
  CHAT_URL,
  SESSIONS_URL,
  TEST_OPTIONS,
  UUID_RE,
  assertSentToLogin,
  isAppResponse,
  freshPage,
  signInViaChat,
  sleepUntil,
  uniqueLogin,
  useBrowser,
} from './helpers.mjs';

useBrowser();

// Two made-up user agents, so each session row names its device.
const DEVICE_A = 'Mozilla/5.0 (X11; Linux x86_64) doorman-browser-test laptop';
const DEVICE_B = 'Mozilla/5.0 (X11; Linux x86_64) doorman-browser-test phone';

// The "Recent activity" list of the sessions page as data, newest first.
async function activityRows(page) {
  return page.locator('li.event').evaluateAll((items) =>
    items.map((li) => ({
      kind: li.dataset.kind,
      what: li.querySelector('.what')?.textContent.trim(),
      device: li.querySelector('.device')?.textContent.trim(),
    })),
  );
}

// The rows of the sessions page as data.
async function sessionRows(page) {
  return page.locator('li.session').evaluateAll((items) =>
    items.map((li) => ({
      id: li.dataset.sessionId,
      current: li.classList.contains('current'),
      device: li.querySelector('.device')?.textContent.trim(),
      badge: li.querySelector('.badge')?.textContent.trim() ?? null,
    })),
  );
}

async function openSessionsFromChat(page) {
  await page.getByRole('link', { name: 'Your sessions' }).click();
  await page.waitForURL(SESSIONS_URL);
  await page.getByRole('heading', { name: 'Your sessions' }).waitFor({ state: 'visible' });
}

describe('doorman sessions page in a real browser', () => {
  test(
    'a user signed in on two devices revokes the other one, which is signed out at its next refresh',
    TEST_OPTIONS,
    async (t) => {
      const login = uniqueLogin();
      const a = await freshPage(t, { userAgent: DEVICE_A });
      const b = await freshPage(t, { userAgent: DEVICE_B });

      // Device A signs in and sees one session: its own.
      const { signedInAt: aSignedInAt } = await signInViaChat(a.page, login);
      await openSessionsFromChat(a.page);
      const rowsA = await sessionRows(a.page);
      assert.equal(rowsA.length, 1, `one session: ${JSON.stringify(rowsA)}`);
      const [sessionA] = rowsA;
      assert.match(sessionA.id, UUID_RE);
      assert.equal(sessionA.current, true, 'it is marked current');
      assert.equal(sessionA.badge, 'This device');
      assert.equal(sessionA.device, DEVICE_A, 'the row names the device by its user agent');

      // Device B, a fresh cookie jar, signs in as the same person: the provider asks again.
      await signInViaChat(b.page, login);
      await openSessionsFromChat(b.page);
      const rowsB = await sessionRows(b.page);
      assert.equal(rowsB.length, 2, `two sessions: ${JSON.stringify(rowsB)}`);
      const currentB = rowsB.filter((r) => r.current);
      assert.equal(currentB.length, 1, 'exactly one row is the current one');
      assert.equal(currentB[0].device, DEVICE_B);
      assert.equal(currentB[0].badge, 'This device');
      assert.notEqual(currentB[0].id, sessionA.id);
      const other = rowsB.find((r) => !r.current);
      assert.deepEqual(other, { id: sessionA.id, current: false, device: DEVICE_A, badge: null }, 'the other row is A');
      await mkdir(ARTIFACTS, { recursive: true });
      await b.page.screenshot({ path: `${ARTIFACTS}sessions.png`, fullPage: true });

      // B revokes A's session and is back on the list, now of one.
      const row = b.page.locator(`li.session[data-session-id="${sessionA.id}"]`);
      const revokePath = `/sessions/${sessionA.id}/revoke`;
      const [revokeResponse] = await Promise.all([
        b.page.waitForResponse((r) => r.request().method() === 'POST' && isAppResponse(revokePath)(r)),
        row.getByRole('button', { name: 'Revoke' }).click(),
      ]);
      assert.equal(revokeResponse.status(), 303, 'revoking redirects');
      await b.page.waitForURL(SESSIONS_URL);
      await b.page.getByRole('heading', { name: 'Your sessions' }).waitFor({ state: 'visible' });
      const afterRevoke = await sessionRows(b.page);
      assert.deepEqual(
        afterRevoke.map((r) => [r.id, r.current]),
        [[currentB[0].id, true]],
        'only B’s own session is left',
      );
      // Recent activity: both sign-ins, each from its device, and the revocation from B.
      await b.page.getByRole('heading', { name: 'Recent activity' }).waitFor({ state: 'visible' });
      const activity = await activityRows(b.page);
      assert.deepEqual(
        activity.map((e) => [e.kind, e.device]),
        [
          ['session_revoked', DEVICE_B],
          ['sign_in', DEVICE_B],
          ['sign_in', DEVICE_A],
        ],
        `recent activity: ${JSON.stringify(activity)}`,
      );
      assert.match(activity[1].what, /^Signed in with /);
      assert.equal(activity[0].what, 'A session was revoked');

      // A's access token dies; A's next request must refresh, and its session is gone.
      await sleepUntil(aSignedInAt + ACCESS_TOKEN_DEAD_AFTER_MS);
      const signedInAgain = await assertSentToLogin(await a.page.goto(CHAT_URL), CHAT_URL);
      if (signedInAgain) {
        // The provider signed A straight back in: that is a new session, not the revoked one.
        t.diagnostic('the provider signed device A straight back in (its own session survives)');
        await a.page.goto(SESSIONS_URL);
        const rowsAgain = await sessionRows(a.page);
        const current = rowsAgain.find((r) => r.current);
        assert.ok(current, `A has a current session again: ${JSON.stringify(rowsAgain)}`);
        assert.notEqual(current.id, sessionA.id, 'a new session, not the revoked one');
        assert.ok(!rowsAgain.some((r) => r.id === sessionA.id), 'the revoked session is not listed');
      } else {
        await a.page.locator('input[name="login"]').waitFor({ state: 'visible' });
      }
    },
  );
});
