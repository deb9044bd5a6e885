-- wrk script for bench/run: sends the app's access cookie and JSON Accept header (passed in the
-- environment, so no per-request Lua work), and prints one machine-readable line at the end.
-- No response() callback: defining one makes wrk hand every response's headers to Lua, which
-- would cost the load generator CPU on this 2-core machine. Status errors (>= 400) are counted
-- by wrk itself in summary.errors.status; bench/run checks the 200 and the body with curl.

wrk.method = "GET"
wrk.headers["Accept"] = "application/json"
wrk.headers["Cookie"] = "access_token=" .. os.getenv("BENCH_TOKEN")

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f\n",
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
