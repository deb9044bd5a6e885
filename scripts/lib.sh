# Shared helpers for scripts/dev and scripts/test: installing what is missing, starting a
# project-local PostgreSQL cluster and the local identity provider, and stopping them by PID.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

APT_UPDATED=
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} (apt-get)"
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# What building and running the app needs: OpenSSL's headers for the libpq that diesel builds
# from source (pq-sys "bundled"), a PostgreSQL server, Node for the provider.
ensure_base_tools() {
  apt_install libssl-dev pkg-config ca-certificates curl
  if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
    apt_install postgresql
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  command -v node >/dev/null || apt_install nodejs npm
  command -v cargo >/dev/null || die "cargo is not installed: install Rust from rustup first"
}

npm_install() { # dir
  if [ ! -d "$1/node_modules" ] || [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
    say "installing npm packages in ${1#"$ROOT"/}"
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in $1"
  fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_for() { # what, seconds, command...
  local what=$1 seconds=$2; shift 2
  for _ in $(seq $((seconds * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "$what did not come up within ${seconds}s"
}

# PostgreSQL refuses to run as root, so the cluster belongs to the postgres user (or to us).
pg_user() { if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# start_postgres DIR PORT: initialises DIR if needed, starts the server on 127.0.0.1:PORT with
# trust authentication for local connections, and creates the role "doorman".
start_postgres() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown "$(pg_user)" "$dir"
  if [ ! -f "$dir/PG_VERSION" ]; then
    say "creating a PostgreSQL cluster in ${dir#"$ROOT"/}"
    as_pg "$PG_BIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if as_pg "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    say "PostgreSQL already running in ${dir#"$ROOT"/}"
  else
    say "starting PostgreSQL on 127.0.0.1:$port"
    as_pg "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 30 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" start >/dev/null \
      || { tail -n 20 "$dir/server.log" >&2; die "PostgreSQL did not start"; }
  fi
  psql_admin "$port" -c "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='doorman') THEN CREATE ROLE doorman LOGIN CREATEDB; END IF; END\$\$;" >/dev/null
}

stop_postgres() { # dir
  as_pg "$PG_BIN/pg_ctl" -D "$1" -m fast -w stop >/dev/null 2>&1 || true
}

psql_admin() { # port, psql args...
  local port=$1; shift
  psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"
}

create_database() { # port name owner
  if ! psql_admin "$1" -tAc "SELECT 1 FROM pg_database WHERE datname='$2'" | grep -q 1; then
    psql_admin "$1" -c "CREATE DATABASE \"$2\" OWNER \"$3\"" >/dev/null
  fi
}

# start_idp PORT CLIENT_ID CLIENT_SECRET REDIRECT_URIS LOGFILE: prints the PID.
start_idp() {
  local port=$1 log=$5
  npm_install "$ROOT/dev/idp"
  IDP_PORT=$port IDP_CLIENT_ID=$2 IDP_CLIENT_SECRET=$3 IDP_REDIRECT_URIS=$4 \
    node "$ROOT/dev/idp/server.mjs" >"$log" 2>&1 &
  local pid=$!
  wait_for "the identity provider (log: $log)" 20 curl -fsS "http://127.0.0.1:$port/.well-known/openid-configuration"
  echo "$pid"
}

# Reads one variable from .env without evaluating the file.
dotenv_value() { sed -n "s/^$1=//p" "$ROOT/.env" | tail -n 1; }
