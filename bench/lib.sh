# Shared pieces of bench/run, bench/scale and bench/login-pair: the app binary (and the login
# floor), the temporary work directory and the processes started in it (stopped by PID on exit),
# /proc readers for CPU and memory, the mock provider, the app's environment, one browser login
# through the real flow, and the two sides of a login pair.
# Source scripts/lib.sh first.
# shellcheck shell=bash

# app_binary: sets APP_BIN to BENCH_APP_BIN (a prebuilt binary) or builds the working tree.
app_binary() {
  if [ -n "${BENCH_APP_BIN:-}" ]; then
    APP_BIN=$(realpath "$BENCH_APP_BIN")
    [ -x "$APP_BIN" ] || die "BENCH_APP_BIN is not an executable: $BENCH_APP_BIN"
    say "using the prebuilt app $APP_BIN"
  else
    say "building the app (release)"
    cargo build --quiet --release --bin doorman
    APP_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/doorman
  fi
}

# bench_workdir PREFIX: creates the work directory ($work, with run/ for the servers' working
# directory, no .env there, and out/ for the measurements) and the EXIT trap that stops every
# PID in $pids and the PostgreSQL cluster in $work/pg, prints the logs' tails on failure and
# removes $work unless BENCH_KEEP_WORK=1 (the directories in $scratch_dirs, in memory, always).
bench_workdir() {
  work=$(mktemp -d "$1.XXXXXX")
  chmod 755 "$work"
  mkdir -p "$work/run" "$work/out"
  pids=() scratch_dirs=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}
bench_cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  stop_postgres "$work/pg"
  for dir in "${scratch_dirs[@]}"; do rm -rf "$dir"; done
  if [ "$status" -ne 0 ]; then
    for log in "$work"/*.log; do
      [ -f "$log" ] || continue
      printf -- '--- %s (last 15 lines)\n' "$log" >&2
      tail -n 15 "$log" >&2
    done
  fi
  if [ "${BENCH_KEEP_WORK:-0}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}

forget_pid() { # pid: drops a stopped process from the cleanup list
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}
stop_pid() { # pid: SIGTERM, wait, forget
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  forget_pid "$1"
}
wait_running() { # what pid seconds command...: like wait_for, but stops early if pid has exited
  local what=$1 pid=$2 seconds=$3
  shift 3
  for _ in $(seq $((seconds * 10))); do
    "$@" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || die "$what exited during start-up"
    sleep 0.1
  done
  die "$what did not come up within ${seconds}s"
}

kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; } # pid, VmRSS|VmHWM
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
# All CPUs' busy time (user, nice, system, irq, softirq, steal), to see other work on the machine.
busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
CLK_TCK=$(getconf CLK_TCK)

# start_mock PORT USERS LOG: the auto-approving provider on 127.0.0.1:PORT; sets started_mock.
start_mock() {
  MOCK_PORT=$1 MOCK_USERS=$2 node "$BENCH/mock-provider/server.mjs" >"$3" 2>&1 &
  started_mock=$!
  pids+=("$started_mock")
  wait_running "the mock provider on port $1 (log: $3)" "$started_mock" 20 \
    curl -fsS "http://127.0.0.1:$1/.well-known/openid-configuration"
}

# start_app RUST_LOG LOG [PORT [METRICS_ADDR]]: starts $APP_BIN in $work/run on 127.0.0.1:PORT
# ($app_port by default) with the environment as it is, waits for /readyz; sets app_pid.
# With APP_PIN set (a CPU list), the app runs on those CPUs only (one worker per CPU).
start_app() {
  local port=${3:-$app_port}
  say "starting the app on 127.0.0.1:$port (RUST_LOG=$1${4:+, METRICS_BIND_ADDR=$4}${APP_PIN:+, CPU $APP_PIN})"
  (cd "$work/run" && exec ${APP_PIN:+taskset -c "$APP_PIN"} env BIND_ADDR="127.0.0.1:$port" RUST_LOG="$1" \
    ${4:+METRICS_BIND_ADDR="$4"} "$APP_BIN") >"$2" 2>&1 &
  app_pid=$!
  pids+=("$app_pid")
  wait_running "the app (log: $2)" "$app_pid" 30 curl -fsS "http://127.0.0.1:$port/readyz"
}

# floor_binary: sets FLOOR_BIN to the login floor (bench/login-floor.rs), built as an example
# of the root crate: the app's crate versions (Cargo.lock) and release profile. A command of its
# own: built together with the binary, the dev-dependencies' features would reach the app.
floor_binary() {
  say "building the login floor (release)"
  cargo build --quiet --release --example login-floor
  FLOOR_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/login-floor
}

# start_side BIN PORT DATABASE SETTINGS LOG: one server of a login pair (the app or the floor)
# with its own database in the cluster on $pg_port, its own callback and the side's extra
# settings (NAME=value ...), which are put back as they were afterwards; sets app_pid.
start_side() {
  local bin=$1 port=$2 database=$3 settings=$4 log=$5 pair name before=()
  for pair in $settings; do
    name=${pair%%=*}
    # What the other side must see again afterwards: the variable's value, or that it was unset.
    if [ -n "${!name+set}" ]; then before+=("$name=${!name}"); else before+=("$name"); fi
    export "${pair?}"
  done
  APP_BIN=$bin DATABASE_URL="postgres://doorman@127.0.0.1:$pg_port/$database" \
    REDIRECT_URL="http://127.0.0.1:$port/auth" start_app info "$log" "$port"
  for pair in "${before[@]}"; do
    if [[ $pair == *=* ]]; then export "${pair?}"; else unset "$pair"; fi
  done
}

# login_pair_rounds ROUNDS LOGINS CONCURRENCY OUT PORT_A PID_A PATH_A PORT_B PID_B PATH_B: each
# round, one bench/login-load.mjs per side (LOGINS logins, CONCURRENCY browsers, the login at
# PATH) at the same moment; each side's CPU per login from /proc around its own window, in
# OUT/aN.json and OUT/bN.json (bench/login_pairs.py reads them).
login_pair_rounds() {
  local rounds=$1 logins=$2 concurrency=$3 out=$4 round driver_a driver_b status
  drive() { # port pid path output
    APP_URL="http://127.0.0.1:$1" LOGIN_PATH=$3 CONCURRENCY=$concurrency TOTAL=$logins MAX_SECONDS=300 \
      CLK_TCK=$CLK_TCK CPU_PIDS="app:$2" timeout 420 node "$BENCH/login-load.mjs" >"$4"
  }
  for round in $(seq "$rounds"); do
    drive "$5" "$6" "$7" "$out/a$round.json" &
    driver_a=$!
    drive "$8" "$9" "${10}" "$out/b$round.json" &
    driver_b=$!
    status=0
    wait "$driver_a" || status=$?
    wait "$driver_b" || status=$?
    [ "$status" -eq 0 ] || die "a login driver failed in round $round (logs: BENCH_KEEP_WORK=1)"
  done
}

rand_text() { head -c "$1" /dev/urandom | base64 | tr -d '/+='; }

# app_env ISSUER APP_PORT: the app's configuration for the provider at ISSUER (the google slot)
# and the callback on APP_PORT; fresh random secrets.
app_env() {
  export OIDC_ISSUER=$1
  export GOOGLE_CLIENT_ID=doorman-bench
  GOOGLE_CLIENT_SECRET="bench-client-secret-$(rand_text 12)"
  SECRET_KEY="bench-session-key-$(rand_text 24)"
  JWT_SECRET_KEY="bench-jwt-key-$(rand_text 24)"
  export GOOGLE_CLIENT_SECRET SECRET_KEY JWT_SECRET_KEY
  export REDIRECT_URL="http://127.0.0.1:$2/auth"
  export COOKIE_SECURE=false
  export ACCESS_TOKEN_TTL_SECONDS=3600
  # All load comes from 127.0.0.1, where real traffic comes from many addresses: the per-client
  # rate limit on /login and /auth stays in the request path but gets a budget the load never
  # exhausts (apps without a rate limit ignore these).
  export RATE_LIMIT_PER_SECOND=1000000
  export RATE_LIMIT_BURST=1000000
}

# browser_login APP LOGIN_PATH ISSUER JAR: one login through the real flow with curl
# (/login -> provider /authorize -> /auth, 303 to /chat); the cookies end up in JAR.
browser_login() {
  local app=$1 login_path=$2 issuer=$3 jar=$4 authorize callback status
  authorize=$(curl -fsS -o /dev/null -c "$jar" -b "$jar" -w '%{redirect_url}' "$app$login_path")
  [[ $authorize == "$issuer/authorize?"* ]] || die "/login did not redirect to the provider: '$authorize'"
  callback=$(curl -fsS -o /dev/null -w '%{redirect_url}' "$authorize")
  [[ $callback == "$app/auth?"* ]] || die "the provider did not redirect to /auth: '$callback'"
  status=$(curl -sS -o "$jar.html" -c "$jar" -b "$jar" -w '%{http_code} %{redirect_url}' "$callback")
  [ "$status" = "303 $app/chat" ] || die "/auth answered '$status': $(head -c 300 "$jar.html")"
}
jar_cookie() { awk -v name="$2" '$6 == name { print $7 }' "$1"; } # jar name

# machine_meta: the machine and tool versions, as key=value lines for the reports.
machine_meta() {
  echo "cores=$(nproc)"
  echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo "kernel=$(uname -r)"
  echo "memory=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "rustc=$(rustc --version)"
  echo "node=$(node --version)"
  echo "postgres=$("$PG_BIN/postgres" --version)"
  local head
  head=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
  if [ -n "${BENCH_APP_BIN:-}" ]; then
    echo "commit=repo at $head; app: prebuilt $APP_BIN${BENCH_APP_LABEL:+ ($BENCH_APP_LABEL)}"
  else
    echo "commit=$head$(git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock migrations 2>/dev/null || echo ' + uncommitted changes in src')"
  fi
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "clk_tck=$CLK_TCK"
}
