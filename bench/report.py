#!/usr/bin/env python3
"""Turns the raw measurements of bench/run (a directory of small files) into the Markdown report
printed at the end of the run and written to bench/results/latest.md.

usage: report.py OUT_DIR
"""
import json
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import login_pairs  # noqa: E402  (bench/login_pairs.py, beside this file)

out = Path(sys.argv[1])

# Targets the team cares about.
TARGET_RATIO = 0.9  # guarded req/s (/chat, /auth/verify, /auth/forward), app / baseline
TARGET_CPU_RATIO = 1.05  # server CPU per guarded request, app / baseline
TARGET_CPU_PER_LOGIN_MS = 0.6
TARGET_RSS_MIB = 20.0
TARGET_STARTUP_MS = 200.0
# Other processes' average CPU during a measurement above this (in cores) makes it unreliable.
BUSY_LIMIT_CORES = 0.15


def read(name, default=None):
    p = out / name
    return p.read_text().strip() if p.exists() else default


meta = dict(line.split("=", 1) for line in read("meta.txt", "").splitlines() if "=" in line)
clk = int(meta.get("clk_tck", "100"))


def wrk_run(stem):
    """One measured wrk run: its BENCH line and the CPU, RSS and machine figures around it."""
    text = read(f"{stem}.wrk")
    if text is None:
        return None
    line = next(l for l in text.splitlines() if l.startswith("BENCH "))
    d = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", line)}
    seconds = d["duration_us"] / 1e6
    d["rps"] = d["requests"] / seconds
    d["errors"] = sum(d[k] for k in ("status_errors", "connect_errors", "read_errors", "write_errors", "timeouts"))
    ticks = int(read(f"{stem}.cpu_ticks", "0"))
    d["cpu_us_per_req"] = ticks * 1e6 / clk / d["requests"] if d["requests"] else float("nan")
    d["cpu_cores"] = ticks / clk / seconds
    wrk_cpu = read(f"{stem}.wrk_cpu", "0 0").split()[-2:]
    d["wrk_cores"] = (float(wrk_cpu[0]) + float(wrk_cpu[1])) / seconds
    busy = int(read(f"{stem}.busy_ticks", "0"))
    d["other_cores"] = busy / clk / seconds - d["cpu_cores"] - d["wrk_cores"] if busy else float("nan")
    d["hwm_kib"] = int(read(f"{stem}.hwm", "0"))
    d["rss_peak_kib"] = int(read(f"{stem}.rss_peak", "0") or 0)
    return d


def wrk(name):
    """A server's rounds, summarised: medians of the rates and latencies, sums of the counts,
    peaks of the memory; `rounds` keeps each round's figures (in round order)."""
    runs = [r for r in (wrk_run(f"{name}.r{i}") for i in range(1, int(meta.get("rounds", "1")) + 1)) if r]
    if not runs:
        return None
    d = {k: statistics.median(r[k] for r in runs) for k in
         ("rps", "p50_us", "p99_us", "cpu_us_per_req", "cpu_cores", "wrk_cores", "other_cores")}
    for k in ("requests", "bytes", "errors", "status_errors", "connect_errors", "read_errors", "write_errors",
              "timeouts"):
        d[k] = sum(r[k] for r in runs)
    d["hwm_kib"] = max(r["hwm_kib"] for r in runs)
    d["rss_peak_kib"] = max(r["rss_peak_kib"] for r in runs)
    d["rounds"] = runs
    return d


def round_ratios(a, b):
    """app / baseline requests/s of each round, and their median."""
    ratios = [x["rps"] / y["rps"] for x, y in zip(a["rounds"], b["rounds"])]
    return ratios, statistics.median(ratios)


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def ms(us):
    return f"{us / 1000:.2f} ms"


def verdict(ok):
    return "**pass**" if ok else "**MISS**"


app, base, warn = wrk("app"), wrk("baseline"), wrk("app_warn")


def paired(other, route):
    """The paired rounds of `other` (app, warn or debug) and the baseline on one route: each round's
    CPU per request of both and their ratio; None when the run has none."""
    rows = []
    for i in range(1, int(meta.get("pair_rounds", "0")) + 1):
        a, b = wrk_run(f"pair.{other}.{route}.r{i}"), wrk_run(f"pair.baseline-{other}.{route}.r{i}")
        if a and b:
            rows.append((a["cpu_us_per_req"], b["cpu_us_per_req"], a["cpu_us_per_req"] / b["cpu_us_per_req"],
                         a["errors"] + b["errors"]))
    if not rows:
        return None
    return {"app": statistics.median(r[0] for r in rows), "base": statistics.median(r[1] for r in rows),
            "ratio": statistics.median(r[2] for r in rows), "ratios": [r[2] for r in rows],
            "errors": sum(r[3] for r in rows)}


PAIRED_ROUTES = {"chat": "/chat", "auth_verify": "/auth/verify", "auth_forward": "/auth/forward"}
pairs = {(other, route): paired(other, route) for other in ("app", "warn", "debug") for route in PAIRED_ROUTES}
gateway = {route: (wrk(f"app.{route}"), wrk(f"baseline.{route}")) for route in ("verify", "forward")}
with_metrics = {"chat": wrk("app_metrics"), "verify": wrk("app_metrics.verify")}
logins = json.loads(read("logins.json", "{}"))
startup = json.loads(read("startup.json", "{}"))
provider_stats = json.loads(read("provider_stats.json", "{}"))
new_users, total_users = (int(x) for x in read("users.txt", "0|0").split("|"))
hwm_after_logins = int(read("app.hwm_after_logins", "0"))
# The app against the login floor (bench/login-floor.rs), loaded at the same moment.
floor_meta = read("floor/meta")
floor = None
if floor_meta:
    floor_rounds, floor_logins, floor_hwm = (int(x) for x in floor_meta.split())
    floor_rows = login_pairs.rounds(out / "floor", floor_rounds)
    floor = {"rows": floor_rows, "logins": floor_logins, "hwm_kib": floor_hwm,
             "medians": login_pairs.medians(floor_rows)}

lines = []
w = lines.append
w("# doorman benchmark")
w("")
w(f"{meta.get('date', '')}, commit {meta.get('commit', '?')}. Generated by `bench/run`; see bench/README.md.")
w("")
w(f"Machine: **{meta.get('cores')} cores**, {meta.get('cpu')}, {meta.get('memory')} RAM, Linux {meta.get('kernel')}; "
  f"{meta.get('rustc')}, Node {meta.get('node')}, {meta.get('postgres')}, {meta.get('wrk')}. "
  "Load generators, provider, PostgreSQL and servers all share these cores.")
w("")
w(f"App: release build, actix default workers (one per core), RUST_LOG={meta.get('rust_log')} "
  "(info writes one log line per request but the gateway's allowed checks, to a file here), COOKIE_SECURE=false, plain HTTP on 127.0.0.1; "
  f"sign-in providers configured: {meta.get('providers', '1')}.")
w("")

w("## Targets")
w("")
w("| Target | Figure | Result |")
w("|---|---|---|")
ratios, ratio = round_ratios(app, base) if app and base else ([], float("nan"))
w(f"| guarded /chat ≥ {TARGET_RATIO}× baseline req/s (median of {len(ratios)} rounds) | {ratio:.2f}× | "
  f"{verdict(ratio >= TARGET_RATIO)} |")
cpu_ratio = app["cpu_us_per_req"] / base["cpu_us_per_req"] if app and base else float("nan")


def cpu_target(route, label, unpinned):
    """The CPU target of a route: judged on the paired rounds when the run has them (the steadier
    measure), else on the rounds that take turns."""
    p = pairs.get(("app", route))
    if p:
        w(f"| server CPU per {label} ≤ {TARGET_CPU_RATIO}× baseline (paired, median of {len(p['ratios'])}) | "
          f"{p['ratio']:.3f}× (taking turns: {unpinned:.2f}×) | {verdict(p['ratio'] <= TARGET_CPU_RATIO)} |")
    else:
        w(f"| server CPU per {label} ≤ {TARGET_CPU_RATIO}× baseline | {unpinned:.2f}× | "
          f"{verdict(unpinned <= TARGET_CPU_RATIO)} |")


cpu_target("chat", "guarded /chat", cpu_ratio)
for route, (a, b) in gateway.items():
    if a and b:
        _, r = round_ratios(a, b)
        c = a["cpu_us_per_req"] / b["cpu_us_per_req"]
        w(f"| guarded /auth/{route} ≥ {TARGET_RATIO}× baseline req/s | {r:.2f}× | {verdict(r >= TARGET_RATIO)} |")
        cpu_target(f"auth_{route}", f"/auth/{route}", c)
cpu_login = (logins.get("cpu", {}).get("app", {}) or {}).get("cpu_ms_per_login")
cpu_ok = cpu_login is not None and cpu_login <= TARGET_CPU_PER_LOGIN_MS and logins.get("errors", 1) == 0
w(f"| app CPU per login ≤ {TARGET_CPU_PER_LOGIN_MS:g} ms | {cpu_login:.2f} ms | {verdict(cpu_ok)} |"
  if cpu_login is not None else "| app CPU per login | not measured | **MISS** |")
if floor:
    app_ms, floor_ms, floor_ratio = floor["medians"]
    w(f"| (no target) app CPU per login ÷ the login floor's, paired | {floor_ratio:.3f}× "
      f"({app_ms:.2f} vs {floor_ms:.2f} ms) | |")
rss_guarded = max(app["hwm_kib"], app["rss_peak_kib"]) if app else 0
w(f"| app RSS under load ≤ {TARGET_RSS_MIB:g} MiB (guarded load) | {mib(rss_guarded)} | "
  f"{verdict(rss_guarded / 1024 <= TARGET_RSS_MIB)} |")
w(f"| app RSS under load ≤ {TARGET_RSS_MIB:g} MiB (whole run incl. login load) | {mib(hwm_after_logins)} | "
  f"{verdict(hwm_after_logins / 1024 <= TARGET_RSS_MIB)} |")
su = startup.get("median_ms")
w(f"| start-up ≤ {TARGET_STARTUP_MS:g} ms (median, exec → /readyz 200) | {su} ms | "
  f"{verdict(su is not None and su <= TARGET_STARTUP_MS)} |")
errors_total = (app["errors"] if app else 1) + (base["errors"] if base else 1) + logins.get("errors", 1)
errors_total += sum(p["errors"] for p in pairs.values() if p)
w(f"| no errors (non-2xx, socket errors, failed logins) | {int(errors_total)} | {verdict(errors_total == 0)} |")
w("")
busy = [(label, d["other_cores"]) for label, d in (("guarded load, app", app), ("guarded load, baseline", base),
        ("guarded load, app with RUST_LOG=warn", warn)) if d and d["other_cores"] == d["other_cores"]]
if "other_cores" in logins:
    busy.append(("login load", logins["other_cores"]))
noisy = [f"{label}: {cores:.2f} cores" for label, cores in busy if cores > BUSY_LIMIT_CORES]
if noisy:
    w(f"**Warning: other processes used the machine during the measurements ({'; '.join(noisy)}). "
      "Throughput, latency and CPU per request/login are inflated or unstable; rerun on a quiet machine.**")
    w("")

w(f"## Guarded GET /chat (wrk -t{meta.get('threads')} -c{meta.get('connections')} -d{meta.get('duration')}s, "
  f"{meta.get('rounds')} rounds, after a {meta.get('warmup')} s warm-up; cookie from a real login)")
w("")
w("App and baseline run side by side and take turns in a rotating order. Rates, latencies and CPU are "
  "medians over the rounds; the ratio is the median of the rounds' ratios; counts are totals.")
w("")
w("| | app | baseline | app / baseline |")
w("|---|---:|---:|---:|")
if app and base:
    w(f"| requests/s | {app['rps']:,.0f} | {base['rps']:,.0f} | {ratio:.2f}× |")
    w(f"| requests/s ratio of each round | | | {', '.join(f'{r:.2f}' for r in ratios)} |")
    w(f"| p50 latency | {ms(app['p50_us'])} | {ms(base['p50_us'])} | {app['p50_us'] / base['p50_us']:.2f}× |")
    w(f"| p99 latency | {ms(app['p99_us'])} | {ms(base['p99_us'])} | {app['p99_us'] / base['p99_us']:.2f}× |")
    w(f"| server CPU per request | {app['cpu_us_per_req']:.1f} µs | {base['cpu_us_per_req']:.1f} µs | "
      f"{app['cpu_us_per_req'] / base['cpu_us_per_req']:.2f}× |")
    w(f"| server CPU used (cores) | {app['cpu_cores']:.2f} | {base['cpu_cores']:.2f} | |")
    w(f"| wrk CPU used (cores) | {app['wrk_cores']:.2f} | {base['wrk_cores']:.2f} | |")
    w(f"| other processes on the machine (cores) | {app['other_cores']:.2f} | {base['other_cores']:.2f} | |")
    w(f"| response bytes (avg, incl. headers) | {app['bytes'] / app['requests']:.0f} | "
      f"{base['bytes'] / base['requests']:.0f} | |")
    w(f"| requests | {app['requests']:,.0f} | {base['requests']:,.0f} | |")
    w(f"| errors (non-2xx / socket / timeout) | {app['status_errors']:.0f} / "
      f"{app['connect_errors'] + app['read_errors'] + app['write_errors']:.0f} / {app['timeouts']:.0f} | "
      f"{base['status_errors']:.0f} / {base['connect_errors'] + base['read_errors'] + base['write_errors']:.0f} / "
      f"{base['timeouts']:.0f} | |")
w("")

if any(pairs.values()):
    w(f"## Paired: CPU per request with app and baseline on one CPU at once ({meta.get('pair_rounds')} rounds "
      f"of {meta.get('pair_seconds')} s, wrk -t1 -c16 each, from the other CPU)")
    w("")
    w("Each round, one app instance and one baseline instance (one worker each, both pinned to CPU 0) are "
      "loaded at the same moment by two wrk processes pinned to CPU 1, so a slower or faster moment of the "
      "machine hits both alike; the rounds that take turns above cannot cancel that. Medians over the rounds.")
    w("")
    rust_log = meta.get("rust_log", "info")
    w("| route | app (RUST_LOG=" + rust_log + ") | baseline | app / baseline (each round) | "
      "app with RUST_LOG=warn ÷ baseline | app with RUST_LOG=" + rust_log + ",request=debug ÷ baseline |")
    w("|---|---:|---:|---:|---:|---:|")
    for route, label in PAIRED_ROUTES.items():
        p, q, d = pairs.get(("app", route)), pairs.get(("warn", route)), pairs.get(("debug", route))
        if not p:
            continue
        warn_cell = f"{q['ratio']:.3f}×" if q else ""
        debug_cell = f"{d['ratio']:.3f}×" if d else ""
        w(f"| {label} | {p['app']:.1f} µs | {p['base']:.1f} µs | **{p['ratio']:.3f}×** "
          f"({', '.join(f'{x:.2f}' for x in p['ratios'])}) | {warn_cell} | {debug_cell} |")
    errors = sum(p["errors"] for p in pairs.values() if p)
    w(f"| errors | {errors:.0f} | | | | |")
    w("")
    w("At `info` the gateway's allowed checks (its 2xx answers) are debug lines and not written: the proxy "
      "logs the request itself. The last column writes them too, so every request is logged.")
    w("")

if any(a and b for a, b in gateway.values()):
    w("## Gateway: GET /auth/verify and GET /auth/forward, same load, same rounds")
    w("")
    w("| | app | baseline | app / baseline |")
    w("|---|---:|---:|---:|")
    for route, (a, b) in gateway.items():
        if not (a and b):
            continue
        rs, r = round_ratios(a, b)
        w(f"| /auth/{route} requests/s | {a['rps']:,.0f} | {b['rps']:,.0f} | {r:.2f}× (rounds {', '.join(f'{x:.2f}' for x in rs)}) |")
        w(f"| /auth/{route} server CPU per request | {a['cpu_us_per_req']:.1f} µs | {b['cpu_us_per_req']:.1f} µs | "
          f"{a['cpu_us_per_req'] / b['cpu_us_per_req']:.2f}× |")
        w(f"| /auth/{route} p50 / p99 | {ms(a['p50_us'])} / {ms(a['p99_us'])} | {ms(b['p50_us'])} / {ms(b['p99_us'])} | |")
        w(f"| /auth/{route} errors | {a['errors']:.0f} | {b['errors']:.0f} | |")
    w("")
if app and with_metrics["chat"]:
    w("## What the metrics cost: a third app instance with METRICS_BIND_ADDR, same rounds")
    w("")
    w("| | metrics off | metrics on | on / off |")
    w("|---|---:|---:|---:|")
    for label, off, on in (("/chat", app, with_metrics["chat"]), ("/auth/verify", gateway["verify"][0], with_metrics["verify"])):
        if off and on:
            rs = [x["rps"] / y["rps"] for x, y in zip(on["rounds"], off["rounds"])]
            w(f"| {label} requests/s | {off['rps']:,.0f} | {on['rps']:,.0f} | {statistics.median(rs):.2f}× |")
            w(f"| {label} server CPU per request | {off['cpu_us_per_req']:.1f} µs | {on['cpu_us_per_req']:.1f} µs | "
              f"{on['cpu_us_per_req'] / off['cpu_us_per_req']:.2f}× |")
    w("")

w("## Full logins (bench/login-load.mjs)")
w("")
if logins:
    w(f"{logins['concurrency']} browsers at once, each with its own cookie jar: GET /login → provider /authorize "
      f"(auto-approves) → GET /auth → GET /chat (JSON). {logins['warmup']} warm-up logins not counted.")
    w("")
    w("| | |")
    w("|---|---:|")
    w(f"| logins (ok / attempted) | {logins['ok']:,} / {logins['attempted']:,} |")
    w(f"| errors | {logins['errors']} |")
    w(f"| logins/s | {logins['logins_per_second']:.0f} |")
    w(f"| whole flow p50 / p99 | {logins['p50_ms']:.1f} ms / {logins['p99_ms']:.1f} ms |")
    for step, label in (("login", "GET /login"), ("authorize", "provider /authorize"),
                        ("auth", "GET /auth (code exchange, ID token, DB)"), ("chat", "GET /chat")):
        w(f"| {label} p50 / p99 | {logins['steps_p50_ms'][step]:.1f} ms / {logins['steps_p99_ms'][step]:.1f} ms |")
    cpu = logins.get("cpu", {})
    for name, label in (("app", "app CPU per login"), ("provider", "provider (Node) CPU per login"),
                        ("postgres", "PostgreSQL CPU per login (all its processes)")):
        if name in cpu and cpu[name]["cpu_ms_per_login"] is not None:
            w(f"| {label} | {cpu[name]['cpu_ms_per_login']:.2f} ms |")
    if "driver" in cpu:
        w(f"| load driver (Node) CPU per login | {cpu['driver']['cpu_ms_per_login']:.2f} ms |")
    if "other_cores" in logins:
        w(f"| other processes on the machine (cores) | {logins['other_cores']:.2f} |")
    returning = logins["ok"] - new_users
    w(f"| new / returning users in the window | {new_users:,} / {returning:,} "
      f"({100 * new_users / max(1, logins['ok']):.0f} % new; pool of {provider_stats.get('user_pool', '?')} users) |")
    w(f"| users in the database after the run | {total_users:,} |")
    if logins.get("first_errors"):
        w("")
        w("First errors:")
        for e in logins["first_errors"]:
            w(f"- `{e}`")
w("")

if floor:
    app_ms, floor_ms, floor_ratio = floor["medians"]
    w("## Login floor (bench/login-floor.rs), paired")
    w("")
    w(f"The app and the login floor at the same moment: {floor['logins']:,} logins each per round, 16 browsers "
      "each, against the same mock provider. The floor does a login's protocol steps with the same crates "
      "and nothing else (no refresh token, sessions, identities, audit, rate limit, metrics, log).")
    w("")
    w("| round | app: ms CPU per login | floor: ms CPU per login | app ÷ floor |")
    w("|---:|---:|---:|---:|")
    for r, (a, b) in enumerate(floor["rows"], 1):
        w(f"| {r} | {a:.3f} | {b:.3f} | {a / b:.3f} |")
    w(f"| median | {app_ms:.3f} | {floor_ms:.3f} | **{floor_ratio:.3f}** |")
    w("")
    w(f"Floor RSS peak: {mib(floor['hwm_kib'])}.")
    w("")

w("## Footprint")
w("")
w("| | app | baseline |")
w("|---|---:|---:|")
w(f"| RSS idle (1 s after start) | {mib(int(meta.get('app_rss_idle', 0)))} | {mib(int(meta.get('base_rss_idle', 0)))} |")
if app and base:
    w(f"| RSS peak, guarded load (VmHWM) | {mib(app['hwm_kib'])} | {mib(base['hwm_kib'])} |")
w(f"| RSS peak, after the login load (VmHWM) | {mib(hwm_after_logins)} | |")
if startup:
    runs = ", ".join(str(x) for x in startup["runs_ms"])
    w(f"| start-up, exec → /readyz 200, migrated DB (median; runs) | {startup['median_ms']} ms ({runs}) | |")
w("")

if warn and app:
    _, warn_ratio = round_ratios(warn, base)
    w("## Diagnostic: a second app instance with RUST_LOG=warn (no per-request log line), in the same rounds")
    w("")
    w("| | app (info) | app (warn) | baseline |")
    w("|---|---:|---:|---:|")
    w(f"| requests/s | {app['rps']:,.0f} | {warn['rps']:,.0f} | {base['rps']:,.0f} |")
    w(f"| app / baseline (median of rounds) | {ratio:.2f}× | {warn_ratio:.2f}× | 1.00× |")
    w(f"| server CPU per request | {app['cpu_us_per_req']:.1f} µs | {warn['cpu_us_per_req']:.1f} µs | "
      f"{base['cpu_us_per_req']:.1f} µs |")
    w(f"| p50 / p99 | {ms(app['p50_us'])} / {ms(app['p99_us'])} | {ms(warn['p50_us'])} / {ms(warn['p99_us'])} | "
      f"{ms(base['p50_us'])} / {ms(base['p99_us'])} |")
    w(f"| errors | {app['errors']:.0f} | {warn['errors']:.0f} | {base['errors']:.0f} |")
    w("")

w(f"Total run time of bench/run: {float(meta.get('run_seconds', 'nan')):.0f} s.")
print("\n".join(lines))
