// Latency probe for bench/scale: one kind of request, many times, modest concurrency; prints one
// JSON object (count, errors, p50/p99/mean in ms) on stdout.
//
//   node scale-probe.mjs refresh   chains of POST /api/v1/auth/token/refresh/ {"refresh": ...}:
//                                  one chain per token in REFRESH_TOKENS (comma-separated, from
//                                  real logins), each call presenting the token the previous
//                                  call returned, COUNT calls per chain, the chains at once
//   node scale-probe.mjs sessions  GET /sessions with the cookie access_token=ACCESS_TOKEN,
//                                  COUNT requests by CONCURRENCY clients
//
// Environment: APP_URL (required), COUNT (1000), CONCURRENCY (4, sessions only),
// WARMUP (50 per chain or client, not counted).

import http from 'node:http';

const APP_URL = process.env.APP_URL;
const mode = process.argv[2];
if (!APP_URL || !['refresh', 'sessions'].includes(mode)) {
  console.error('usage: APP_URL=... node scale-probe.mjs refresh|sessions');
  process.exit(2);
}
const COUNT = Number(process.env.COUNT ?? 1000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const WARMUP = Number(process.env.WARMUP ?? 50);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function request(method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, APP_URL), { method, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(15_000, () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Rotates the chain's token once; returns the new refresh token. */
async function refreshOnce(token) {
  const body = JSON.stringify({ refresh: token });
  const res = await request('POST', '/api/v1/auth/token/refresh/', {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    accept: 'application/json',
  }, body);
  if (res.status !== 200) throw new Error(`refresh answered ${res.status}: ${res.body.slice(0, 200)}`);
  const next = JSON.parse(res.body).refresh;
  if (typeof next !== 'string' || next === token) throw new Error('refresh returned no new refresh token');
  return next;
}

async function sessionsOnce() {
  const res = await request('GET', '/sessions', { accept: 'text/html', cookie: `access_token=${process.env.ACCESS_TOKEN}` });
  if (res.status !== 200 || !res.body.includes('data-session-id')) {
    throw new Error(`/sessions answered ${res.status}: ${res.body.replace(/\s+/g, ' ').slice(0, 200)}`);
  }
}

const latencies = [];
const errors = [];
/** One sequential client: `warmup` untimed calls, then `count` timed ones. */
async function client(step, state, warmup, count) {
  for (let i = 0; i < warmup + count; i += 1) {
    const t0 = performance.now();
    try {
      state = await step(state);
    } catch (e) {
      errors.push(String(e.message ?? e));
      if (mode === 'refresh') return; // a broken chain cannot go on
      continue;
    }
    if (i >= warmup) latencies.push(performance.now() - t0);
  }
}

const started = performance.now();
if (mode === 'refresh') {
  const tokens = (process.env.REFRESH_TOKENS ?? '').split(',').filter(Boolean);
  if (tokens.length === 0) throw new Error('REFRESH_TOKENS is empty');
  await Promise.all(tokens.map((t) => client(refreshOnce, t, WARMUP, COUNT)));
} else {
  const each = Math.ceil(COUNT / CONCURRENCY);
  await Promise.all(Array.from({ length: CONCURRENCY }, () => client(sessionsOnce, null, WARMUP, each)));
}
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const at = (q) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] : null);
console.log(JSON.stringify({
  mode,
  count: latencies.length,
  errors: errors.length,
  first_errors: [...new Set(errors)].slice(0, 5),
  seconds,
  per_second: latencies.length / seconds,
  p50_ms: at(0.5),
  p99_ms: at(0.99),
  mean_ms: latencies.length ? latencies.reduce((s, x) => s + x, 0) / latencies.length : null,
}));
agent.destroy();
