// Full-login load for bench/run: many virtual browsers at once, each with its own cookie jar,
// following redirects by hand through
//   GET /login -> provider /authorize (auto-approves) -> GET /auth?code&state&iss -> GET /chat (JSON)
// and checking every step. Prints one JSON object on stdout.
//
// Environment:
//   APP_URL          the app, e.g. http://127.0.0.1:8000 (required)
//   CONCURRENCY      browsers at once (default 32)
//   TOTAL            measured logins (default 2000)
//   MAX_SECONDS      stop starting new logins after this long (default 60)
//   WARMUP           logins before the measured window, not counted (default 2 x CONCURRENCY)
//   CPU_PIDS         "name:pid,name:pid": processes whose utime+stime is read around the window
//   CPU_TREES        "name:pid": like CPU_PIDS, summed over the process and its children (PostgreSQL)
//   CLK_TCK          clock ticks per second for /proc/<pid>/stat (default 100)

import http from 'node:http';
import { readFileSync, readdirSync } from 'node:fs';

const APP_URL = process.env.APP_URL;
if (!APP_URL) {
  console.error('APP_URL is required');
  process.exit(2);
}
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const TOTAL = Number(process.env.TOTAL ?? 2000);
const MAX_SECONDS = Number(process.env.MAX_SECONDS ?? 60);
const WARMUP = Number(process.env.WARMUP ?? CONCURRENCY * 2);
const CLK_TCK = Number(process.env.CLK_TCK ?? 100);
const pairs = (list) =>
  (list ?? '')
    .split(',')
    .filter(Boolean)
    .map((pair) => {
      const [name, pid] = pair.split(':');
      return { name, pid: Number(pid) };
    });
const CPU_PIDS = pairs(process.env.CPU_PIDS);
const CPU_TREES = pairs(process.env.CPU_TREES);

const appOrigin = new URL(APP_URL).origin;
// With several providers /login is a page; the load signs in with the first one directly.
const LOGIN_PATH = process.env.LOGIN_PATH || '/login';
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });

/** One HTTP GET without following redirects; the body is read (and kept if asked). */
function get(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'GET', agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.setTimeout(15_000, () => req.destroy(new Error(`timeout: GET ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

/** A browser's cookies for the app's origin (name -> value), updated from Set-Cookie. */
class Jar {
  #cookies = new Map();
  update(setCookie) {
    for (const line of setCookie ?? []) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const gone = attrs.some((a) => {
        const [k, v] = a.trim().split('=');
        if (k.toLowerCase() === 'max-age') return Number(v) <= 0;
        if (k.toLowerCase() === 'expires') return Date.parse(a.trim().slice(8)) <= Date.now();
        return false;
      });
      if (gone || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
  has(name) {
    return this.#cookies.has(name);
  }
  header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

function expect(cond, message) {
  if (!cond) throw new Error(message);
}

const STEPS = ['login', 'authorize', 'auth', 'chat'];

/** One complete login by a fresh browser; returns per-step milliseconds. */
async function oneLogin() {
  const jar = new Jar();
  const ms = {};
  let t = performance.now();
  const lap = (step) => {
    const now = performance.now();
    ms[step] = now - t;
    t = now;
  };

  const login = await get(`${appOrigin}${LOGIN_PATH}`, { accept: 'text/html' });
  expect(login.status === 303, `/login answered ${login.status}`);
  jar.update(login.headers['set-cookie']);
  expect(jar.has('doorman_login'), '/login set no doorman_login cookie');
  const authorizeUrl = new URL(login.headers.location);
  expect(authorizeUrl.searchParams.get('code_challenge_method') === 'S256', 'no PKCE S256 in the authorize URL');
  expect(authorizeUrl.searchParams.get('nonce'), 'no nonce in the authorize URL');
  lap('login');

  const authorize = await get(authorizeUrl.href, { accept: 'text/html' });
  expect(authorize.status === 302, `provider /authorize answered ${authorize.status}: ${authorize.body.slice(0, 200)}`);
  const callback = new URL(authorize.headers.location);
  expect(callback.origin === appOrigin && callback.pathname === '/auth', `provider redirected to ${callback.href}`);
  lap('authorize');

  const auth = await get(callback.href, { accept: 'text/html', cookie: jar.header() });
  expect(auth.status === 303, `/auth answered ${auth.status}: ${auth.body.replace(/\s+/g, ' ').slice(0, 300)}`);
  jar.update(auth.headers['set-cookie']);
  expect(jar.has('access_token'), '/auth set no access_token cookie');
  expect(!jar.has('doorman_login'), '/auth left the doorman_login cookie in place');
  const destination = new URL(auth.headers.location, appOrigin);
  expect(destination.pathname === '/chat', `/auth redirected to ${destination.href}`);
  lap('auth');

  const chat = await get(destination.href, { accept: 'application/json', cookie: jar.header() });
  expect(chat.status === 200, `/chat answered ${chat.status}`);
  const body = JSON.parse(chat.body);
  expect(body.message === 'Welcome!' && /^bench-user-\d+@bench\.test$/.test(body.user?.user_email ?? ''),
    `/chat answered ${chat.body.slice(0, 200)}`);
  lap('chat');
  return ms;
}

/** [ppid, utime + stime] of a process, from /proc/<pid>/stat (fields 4, 14 and 15). */
function procStat(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [Number(fields[1]), Number(fields[11]) + Number(fields[12])];
}

function cpuTicks(pid) {
  return procStat(pid)[1];
}

/** Ticks per pid for a process and its direct children (PostgreSQL's backends). */
function treeTicks(root) {
  const ticks = new Map([[root, cpuTicks(root)]]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const [ppid, t] = procStat(entry);
      if (ppid === root) ticks.set(Number(entry), t);
    } catch {
      // exited meanwhile
    }
  }
  return ticks;
}

/** All CPUs' busy ticks (user, nice, system, irq, softirq, steal) from /proc/stat. */
function busyTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  return f[1] + f[2] + f[3] + f[6] + f[7] + f[8];
}

/** Ticks used between two snapshots; a process born in between counts from zero. */
function treeDelta(before, after) {
  let sum = 0;
  for (const [pid, t] of after) sum += t - (before.get(pid) ?? 0);
  return sum;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

async function run(count, maxSeconds, record) {
  let started = 0;
  const deadline = performance.now() + maxSeconds * 1000;
  const worker = async () => {
    while (started < count && performance.now() < deadline) {
      started += 1;
      const t0 = performance.now();
      try {
        const ms = await oneLogin();
        record.ok(performance.now() - t0, ms);
      } catch (e) {
        record.fail(e);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

const warmErrors = [];
await run(WARMUP, 30, { ok() {}, fail: (e) => warmErrors.push(String(e.message ?? e)) });

const totals = [];
const steps = Object.fromEntries(STEPS.map((s) => [s, []]));
const errors = [];
const cpuBefore = Object.fromEntries(CPU_PIDS.map(({ name, pid }) => [name, cpuTicks(pid)]));
const treesBefore = Object.fromEntries(CPU_TREES.map(({ name, pid }) => [name, treeTicks(pid)]));
const busyBefore = busyTicks();
const selfBefore = process.cpuUsage();
const windowStart = new Date();
const t0 = performance.now();
await run(TOTAL, MAX_SECONDS, {
  ok(total, ms) {
    totals.push(total);
    for (const s of STEPS) steps[s].push(ms[s]);
  },
  fail(e) {
    errors.push(String(e.message ?? e));
  },
});
const seconds = (performance.now() - t0) / 1000;
const windowEnd = new Date();
const selfUsage = process.cpuUsage(selfBefore);
const busy = busyTicks() - busyBefore;
const cpuAfter = Object.fromEntries(CPU_PIDS.map(({ name, pid }) => [name, cpuTicks(pid)]));
const treesAfter = Object.fromEntries(CPU_TREES.map(({ name, pid }) => [name, treeTicks(pid)]));

totals.sort((a, b) => a - b);
for (const s of STEPS) steps[s].sort((a, b) => a - b);
const ok = totals.length;
const cpu = {};
const perLogin = (ticks) => {
  const msTotal = (ticks * 1000) / CLK_TCK;
  return { cpu_ms: msTotal, cpu_ms_per_login: ok ? msTotal / ok : null };
};
for (const { name } of CPU_PIDS) cpu[name] = perLogin(cpuAfter[name] - cpuBefore[name]);
for (const { name } of CPU_TREES) cpu[name] = perLogin(treeDelta(treesBefore[name], treesAfter[name]));
const driverMs = (selfUsage.user + selfUsage.system) / 1000;
cpu.driver = { cpu_ms: driverMs, cpu_ms_per_login: ok ? driverMs / ok : null };
// Whatever else ran on the machine meanwhile, in cores on average (should be close to 0).
const ours = Object.values(cpu).reduce((sum, c) => sum + c.cpu_ms, 0);
const otherCores = ((busy * 1000) / CLK_TCK - ours) / 1000 / seconds;
const firstErrors = [...new Set(errors)].slice(0, 5);
console.log(
  JSON.stringify({
    concurrency: CONCURRENCY,
    warmup: WARMUP,
    warmup_errors: warmErrors.length,
    attempted: ok + errors.length,
    ok,
    errors: errors.length,
    first_errors: firstErrors.length ? firstErrors : [...new Set(warmErrors)].slice(0, 5),
    seconds,
    logins_per_second: ok / seconds,
    p50_ms: percentile(totals, 50),
    p99_ms: percentile(totals, 99),
    steps_p50_ms: Object.fromEntries(STEPS.map((s) => [s, percentile(steps[s], 50)])),
    steps_p99_ms: Object.fromEntries(STEPS.map((s) => [s, percentile(steps[s], 99)])),
    window_start: windowStart.toISOString(),
    window_end: windowEnd.toISOString(),
    cpu,
    machine_busy_cores: (busy / CLK_TCK) / seconds,
    other_cores: otherCores,
  }),
);
agent.destroy();
