#!/usr/bin/env bash
# Tests the production nginx config (deploy/nginx/*.conf) in front of two doorman instances:
# TLS with a throwaway self-signed certificate, the HTTP->HTTPS redirect, a login that starts on
# one instance and completes on the other, cookies behind TLS, the auth_request snippet in front
# of a small static app, /auth/verify, and one instance stopping gracefully while nginx fails over.
#
# The nginx config is made FROM the deploy files: doorman.conf with only its placeholders
# replaced (ports, certificate, log paths, host name) and the snippets copied as they are; the
# test adds one location (the static app behind protect-app.conf) and a test-only realip rule
# that lets a request pretend to come from a public address.
#
#   bash tests/deploy/nginx-test.sh
#
# Needs target/debug/doorman (built when missing; DOORMAN_BIN overrides). Uses the PostgreSQL
# server named by TEST_DATABASE_URL (a superuser URL; a fresh database is created and dropped)
# or starts its own cluster. Installs nginx, Node and PostgreSQL with apt when they are missing.
# Everything listens on 127.0.0.1, on free ports. KEEP_WORK=1 keeps the temp directory.
# Prints `ok - <name>` / `not ok - <name>` per check and `N passed, M failed` at the end.
# Checks are shell code in single quotes, evaluated by check(): SC2016/SC2034 are expected.
# shellcheck disable=SC2016,SC2034
set -euo pipefail
# shellcheck source=SCRIPTDIR/../../scripts/lib.sh
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"
started=$(date +%s)

# --- Tools ----------------------------------------------------------------------------------------
command -v nginx >/dev/null || apt_install nginx
command -v openssl >/dev/null || apt_install openssl
command -v curl >/dev/null || apt_install curl ca-certificates
command -v psql >/dev/null || apt_install postgresql-client
command -v node >/dev/null || apt_install nodejs npm
if [ -z "${TEST_DATABASE_URL:-}" ] && { [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; }; then
  apt_install postgresql
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
BIN=${DOORMAN_BIN:-$ROOT/target/debug/doorman}
if [ ! -x "$BIN" ]; then
  say "building doorman"
  cargo build --quiet --bin doorman
fi

# --- Work directory, ports, cleanup ---------------------------------------------------------------
work=$(mktemp -d /tmp/doorman-nginx-test.XXXXXX)
chmod 755 "$work"   # nginx workers (nobody) read the static files; postgres owns its cluster dir
ngx=$work/nginx
mkdir -p "$ngx/sites" "$ngx/snippets" "$ngx/logs" "$ngx/static/protected" "$work/run" "$work/tls"

nginx_pid='' app1_pid='' app2_pid='' idp_pid='' own_pg='' admin_url='' test_db='' passed=0 failed=0
cleanup() {
  local status=$?
  set +e
  if [ "$failed" -gt 0 ] || [ "$status" -ne 0 ]; then
    for log in app1.log app2.log idp.log nginx/logs/error.log; do
      [ -s "$work/$log" ] && { echo "--- last lines of $log" >&2; tail -n 15 "$work/$log" >&2; }
    done
  fi
  [ -n "$nginx_pid" ] && kill -QUIT "$nginx_pid" 2>/dev/null
  for pid in $app1_pid $app2_pid $idp_pid; do kill "$pid" 2>/dev/null; done
  for pid in $nginx_pid $app1_pid $app2_pid; do wait "$pid" 2>/dev/null; done
  if [ -n "$test_db" ]; then
    psql -X -q "$admin_url" -c "DROP DATABASE IF EXISTS \"$test_db\" WITH (FORCE)" >/dev/null 2>&1
  fi
  [ -n "$own_pg" ] && stop_postgres "$work/pg"
  if [ -n "${KEEP_WORK:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

http_port=$(free_port) https_port=$(free_port) static_port=$(free_port)
app1_port=$(free_port) app2_port=$(free_port) idp_port=$(free_port)
BASE=https://127.0.0.1:$https_port
ISSUER=http://127.0.0.1:$idp_port
APP1=http://127.0.0.1:$app1_port
APP2=http://127.0.0.1:$app2_port

# --- Database -------------------------------------------------------------------------------------
if [ -n "${TEST_DATABASE_URL:-}" ]; then
  url=$TEST_DATABASE_URL
else
  pg_port=$(free_port)
  own_pg=1
  start_postgres "$work/pg" "$pg_port"
  url=postgres://postgres@127.0.0.1:$pg_port/postgres
fi
db=doorman_nginx_$(date +%s)_$$
psql -X -q -v ON_ERROR_STOP=1 "$url" -c "CREATE DATABASE \"$db\"" >/dev/null
admin_url=$url test_db=$db
# The same server and credentials, the new database: scheme://userinfo@host:port/<db>?params
base=${admin_url%%\?*} query=${admin_url#"$base"}
authority=${base#*://} authority=${authority%%/*}
DATABASE_URL=${base%%://*}://$authority/$test_db$query

# --- TLS certificate for 127.0.0.1 ----------------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$work/tls/key.pem" -out "$work/tls/cert.pem" 2>/dev/null
CA=$work/tls/cert.pem

# --- nginx config from the deploy files -----------------------------------------------------------
cp deploy/nginx/doorman-proxy.conf "$ngx/snippets/doorman-proxy.conf"
cp deploy/nginx/protect-app.conf "$ngx/snippets/doorman-protect-app.conf"
sed -e "s#listen 80;#listen 127.0.0.1:$http_port;#" \
    -e "s#listen 443 ssl http2;#listen 127.0.0.1:$https_port ssl http2;\n    include $ngx/test-server.conf;#" \
    -e '/listen \[::\]:/d' \
    -e "s#server 127.0.0.1:8001 #server 127.0.0.1:$app1_port #" \
    -e "s#server 127.0.0.1:8002 #server 127.0.0.1:$app2_port #" \
    -e "s#/etc/letsencrypt/live/your.host/fullchain.pem#$work/tls/cert.pem#" \
    -e "s#/etc/letsencrypt/live/your.host/privkey.pem#$work/tls/key.pem#" \
    -e "s#https://your.host#https://127.0.0.1:$https_port#g" \
    -e "s#your\.host#127.0.0.1#g" \
    -e "s#/var/log/nginx/#$ngx/logs/#g" \
    -e "s#/var/www/letsencrypt#$ngx/acme#g" \
    deploy/nginx/doorman.conf >"$ngx/sites/doorman.conf"
# The placeholders must all have been found: if doorman.conf changes shape, this test must change too.
for want in "listen 127.0.0.1:$http_port;" "listen 127.0.0.1:$https_port ssl" "server 127.0.0.1:$app1_port " \
  "server 127.0.0.1:$app2_port " "ssl_certificate     $work/tls/cert.pem" "ssl_certificate_key $work/tls/key.pem" \
  "return 301 https://127.0.0.1:$https_port\$request_uri"; do
  grep -qF -- "$want" "$ngx/sites/doorman.conf" || die "deploy/nginx/doorman.conf: expected placeholder not found for: $want"
done
if grep -vE '^\s*#' "$ngx/sites/doorman.conf" | grep -nE 'your\.host|/etc/|/var/|:800[12]\b'; then
  die "placeholders left in the generated config"
fi

# Test-only, inside the HTTPS server: the static app behind the login, and a way for a request to
# come from a public address (here every client is 127.0.0.1, which the app rightly trusts).
cat >"$ngx/test-server.conf" <<EOF
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Test-Client-Ip;

    location /protected/ {
        include snippets/doorman-protect-app.conf;
        include snippets/doorman-proxy.conf;
        proxy_pass http://127.0.0.1:$static_port;
    }
EOF
echo '<!doctype html><title>protected</title><p>PROTECTED-MARKER-7f3a</p>' >"$ngx/static/protected/index.html"
cp "$ngx/static/protected/index.html" "$ngx/static/protected/page.html"
chmod -R a+rX "$ngx/static"

cat >"$ngx/nginx.conf" <<EOF
worker_processes 1;   # one round-robin state: successive requests alternate between the instances
pid $ngx/nginx.pid;
error_log $ngx/logs/error.log notice;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    include sites/doorman.conf;

    # The protected app: static files that record what nginx told them about the user.
    log_format seen '\$request_method \$uri user=\$http_x_auth_request_user email=\$http_x_auth_request_email '
                    'cookie="\$http_cookie"';
    server {
        listen 127.0.0.1:$static_port;
        root $ngx/static;
        access_log $ngx/logs/static.log seen;
    }
}
EOF
nginx -t -q -e "$ngx/logs/error.log" -p "$ngx" -c "$ngx/nginx.conf" || die "nginx rejects the generated config"

# --- Provider, app instances, nginx ---------------------------------------------------------------
client_secret=nginx-test-secret-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
idp_pid=$(start_idp "$idp_port" doorman-nginx-test "$client_secret" "$BASE/auth" "$work/idp.log")
[ -n "$idp_pid" ] || die "the identity provider did not start"

SECRET_KEY=nginx-test-session-key-$(head -c 24 /dev/urandom | base64)
JWT_SECRET_KEY=nginx-test-jwt-key-$(head -c 24 /dev/urandom | base64)
start_app() { # port log; prints nothing, sets $! for the caller
  (cd "$work/run" && exec env -i PATH="$PATH" HOME="$work/run" \
    DATABASE_URL="$DATABASE_URL" GOOGLE_CLIENT_ID=doorman-nginx-test GOOGLE_CLIENT_SECRET="$client_secret" \
    OIDC_ISSUER="$ISSUER" REDIRECT_URL="$BASE/auth" SECRET_KEY="$SECRET_KEY" JWT_SECRET_KEY="$JWT_SECRET_KEY" \
    BIND_ADDR="127.0.0.1:$1" COOKIE_SECURE=true RUST_LOG=info "$BIN") >>"$2" 2>&1 &
}
# Both at once on an empty database, as `systemctl start doorman@8001 doorman@8002` would.
start_app "$app1_port" "$work/app1.log"; app1_pid=$!
start_app "$app2_port" "$work/app2.log"; app2_pid=$!
restarted=()
for n in 1 2; do
  port_var=app${n}_port pid_var=app${n}_pid
  for _ in $(seq 300); do
    curl -fsS "http://127.0.0.1:${!port_var}/readyz" >/dev/null 2>&1 && break
    if ! kill -0 "${!pid_var}" 2>/dev/null; then
      # What systemd's Restart=on-failure does; reported below, since it should not be needed.
      wait "${!pid_var}" || true
      [ "${#restarted[@]}" -lt 2 ] || die "instance $n keeps failing at start-up (log: $work/app$n.log)"
      restarted+=("$n")
      start_app "${!port_var}" "$work/app$n.log"; printf -v "$pid_var" %s "$!"
    fi
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:${!port_var}/readyz" >/dev/null 2>&1 || die "instance $n did not become ready"
done

nginx -e "$ngx/logs/error.log" -p "$ngx" -c "$ngx/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
wait_for "nginx (log: $ngx/logs/error.log)" 10 curl -fsS --cacert "$CA" "$BASE/healthz"
say "nginx on :$https_port (http :$http_port), instances on :$app1_port and :$app2_port, provider on :$idp_port"

# --- Helpers --------------------------------------------------------------------------------------
set +e
# shellcheck source=SCRIPTDIR/checks.sh
source "$ROOT/tests/deploy/checks.sh"
H=$work/headers B=$work/body
CURL_ARGS=(--cacert "$CA" --max-time 15)
cookie_value() { sed -n "s/^$1=\([^;]*\).*/\1/p" <<<"$2"; }
jar_value() { awk -F'\t' -v n="$2" '$6 == n { v = $7 } END { print v }' "$1"; }
count() { grep -c -- "$2" "$1" 2>/dev/null; }   # lines of a log file that contain a string
body_has() { grep -q -- "$1" "$B"; }
secure_flags() { # a Set-Cookie value: Secure, HttpOnly, SameSite=Lax
  grep -qi '; *secure *\(;\|$\)' <<<"$1" && grep -qi '; *httponly *\(;\|$\)' <<<"$1" && grep -qi '; *samesite=lax' <<<"$1"
}
UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
MARKER=PROTECTED-MARKER-7f3a

# login NAME JAR NEXT [CURL ARGS for the callback request...]: the browser's round trip through
# nginx and the provider's login form. Leaves the callback's response in $H/$B; sets $login_cookie.
login() {
  local name=$1 jar=$2 next=$3
  shift 3
  req -c "$jar" -b "$jar" "$BASE/login?next=$next"
  [ "$status" = 303 ] && [[ "$location" == "$ISSUER/"* ]] || { why="GET /login: $status $location"; return 1; }
  login_cookie=$(set_cookie doorman_login)
  at_provider "$name" "$jar" "$BASE/auth" || return 1
  req -c "$jar" -b "$jar" "$@" "$location"
  [ "$status" = 303 ] || { why="GET /auth: $status $(head -c 300 "$B")"; return 1; }
}

# Migrations take an advisory lock, so neither instance may have needed a restart.
check "two instances starting together on an empty database both come up without a restart" '[ "${#restarted[@]}" -eq 0 ]'
for n in "${restarted[@]}"; do grep -h 'cannot start' "$work/app$n.log" | head -n 1 | sed 's/^/#   /'; done

# --- a. A login started on one instance completes on the other ------------------------------------
# One nginx worker, so round robin strictly alternates: /login and the callback (the next request
# through nginx) land on different instances. Which ones is read from the instances' logs.
l1=$(count "$work/app1.log" '/login"') l2=$(count "$work/app2.log" '/login"')
a1=$(count "$work/app1.log" '/auth"') a2=$(count "$work/app2.log" '/auth"')
alice=$work/alice.jar
check "login as alice through nginx: the callback answers 303" 'login alice "$alice" /chat'
auth_access=$(set_cookie access_token) auth_refresh=$(set_cookie refresh_token)
auth_location=$location auth_rid=$(header x-request-id)
sleep 0.3   # the app writes its log in 100 ms batches
dl1=$(($(count "$work/app1.log" '/login"') - l1)) dl2=$(($(count "$work/app2.log" '/login"') - l2))
da1=$(($(count "$work/app1.log" '/auth"') - a1)) da2=$(($(count "$work/app2.log" '/auth"') - a2))
case "$dl1$dl2$da1$da2" in
  1001) route="started on instance 1 (app1.log: /login), completed on instance 2 (app2.log: /auth)" ;;
  0110) route="started on instance 2 (app2.log: /login), completed on instance 1 (app1.log: /auth)" ;;
  *) route='' ;;
esac
why="new log lines: /login app1=$dl1 app2=$dl2, /auth app1=$da1 app2=$da2"
check "the login ${route:-was split between the instances}" '[ -n "$route" ]'
why="Location: $auth_location"
check "the callback redirects to next (/chat)" '[[ "$auth_location" == /chat || "$auth_location" == "$BASE/chat" ]]'
req -b "$alice" "$BASE/chat"
why="status $status"
check "GET /chat through nginx with alice's cookies greets Alice" '[ "$status" = 200 ] && body_has "Welcome, Alice!"'

# --- b. Both instances accept the cookie ----------------------------------------------------------
access=$(jar_value "$alice" access_token) refresh=$(jar_value "$alice" refresh_token)
check "the cookie jar holds access_token and refresh_token" '[ -n "$access" ] && [ -n "$refresh" ]'
for n in 1 2; do
  url_var=APP$n
  # The cookies are Secure: a browser (and curl's jar) sends them only over https, so here by hand.
  req -H "Cookie: access_token=$access; refresh_token=$refresh" -H 'Accept: text/html' "${!url_var}/chat"
  why="status $status"
  check "instance $n directly: /chat with alice's cookie greets Alice" '[ "$status" = 200 ] && body_has "Welcome, Alice!"'
  req -H "Cookie: access_token=$access" -H 'Accept: application/json' "${!url_var}/chat"
  why="status $status: $(head -c 200 "$B")"
  check "instance $n directly: /chat as JSON names Alice" '[ "$status" = 200 ] && body_has "\"name\":\"Alice\""'
done

# --- c. Cookies, TLS and proxy headers ------------------------------------------------------------
why="$login_cookie"
check "the login-state cookie (doorman_login) is Secure, HttpOnly, SameSite=Lax" 'secure_flags "$login_cookie"'
why="$auth_access"
check "access_token comes back through nginx Secure, HttpOnly, SameSite=Lax" 'secure_flags "$auth_access"'
why="$auth_refresh"
check "refresh_token comes back through nginx Secure, HttpOnly, SameSite=Lax" 'secure_flags "$auth_refresh"'
req "$BASE/healthz"
why="status $status, HSTS '$(header strict-transport-security)'"
check "HTTPS responses carry Strict-Transport-Security" '[ "$status" = 200 ] && [ -n "$(header strict-transport-security)" ]'
req "http://127.0.0.1:$http_port/chat?x=1"
why="$status $location"
check "plain HTTP answers 301 to the same path and query on HTTPS" '[ "$status" = 301 ] && [ "$location" = "$BASE/chat?x=1" ]'
tls13=$(curl -sS --cacert "$CA" --tlsv1.3 -o /dev/null -w '%{http_code}' "$BASE/healthz" 2>&1)
tls12=$(curl -sS --cacert "$CA" --tlsv1.2 --tls-max 1.2 -o /dev/null -w '%{http_code}' "$BASE/healthz" 2>&1)
why="TLS 1.3: $tls13, TLS 1.2: $tls12"
check "TLS 1.2 and 1.3 are accepted" '[ "$tls13" = 200 ] && [ "$tls12" = 200 ]'
# SECLEVEL=0 lets this client offer TLS 1.1 (and 1.2 for the control), so a refusal is the server's.
s_client() { openssl s_client -connect "127.0.0.1:$https_port" -servername 127.0.0.1 "$@" \
  -cipher 'DEFAULT:@SECLEVEL=0' </dev/null >/dev/null 2>&1; }
why="control: openssl s_client -tls1_2 must connect"
check "TLS 1.1 is refused" 's_client -tls1_2 && ! s_client -tls1_1'

# The address the app records for a session is the one nginx saw (203.0.113.7, made so by the
# test-only realip rule), not what the client wrote into its own X-Forwarded-For.
carol=$work/carol.jar
check "login as carol from a public address" \
  'login carol "$carol" /chat -H "X-Test-Client-Ip: 203.0.113.7" -H "X-Forwarded-For: 198.51.100.66"'
req -b "$carol" "$BASE/sessions"
why="status $status; on the page: $(grep -o 'IP [0-9a-f.:]*' "$B" | tr '\n' ' ')"
check "the app records the client address from nginx's X-Forwarded-For, not the client's" \
  '[ "$status" = 200 ] && body_has "IP 203.0.113.7" && ! body_has 198.51.100.66'
# Logging out through nginx: the app compares Origin with the origin of REDIRECT_URL (scheme,
# host and port as the browser sees them through nginx).
carol_refresh=$(jar_value "$carol" refresh_token)
req -b "$carol" -X POST -H "Origin: $BASE" "$BASE/logout"
cleared_access=$(set_cookie access_token) cleared_refresh=$(set_cookie refresh_token)
why="$status $location; $cleared_access | $cleared_refresh"
check "POST /logout through nginx (Origin: $BASE): 303, both cookies cleared with the same attributes" \
  '[ "$status" = 303 ] && [ -z "$(cookie_value access_token "$cleared_access")" ] && [ -z "$(cookie_value refresh_token "$cleared_refresh")" ] &&
   grep -qi "max-age=0" <<<"$cleared_access$cleared_refresh" && secure_flags "$cleared_access" && secure_flags "$cleared_refresh"'
req -H "Cookie: refresh_token=$carol_refresh" "$APP1/auth/verify"
s1=$status
req -H "Cookie: refresh_token=$carol_refresh" "$APP2/auth/verify"
why="instance 1: $s1, instance 2: $status"
check "after the logout, carol's refresh token is dead on both instances" '[ "$s1" = 401 ] && [ "$status" = 401 ]'

if [ -n "$auth_rid" ]; then
  why="X-Request-Id $auth_rid"
  check "nginx's \$request_id reaches the app as X-Request-Id (in both logs)" \
    'cat "$work/app1.log" "$work/app2.log" | grep -q -- "$auth_rid" && grep -q -- "rid=$auth_rid" "$ngx/logs/doorman.access.log"'
else
  ok "nginx's \$request_id reaches the app as X-Request-Id # SKIP this build of the app does not echo X-Request-Id"
fi

# --- d. auth_request in front of another app ------------------------------------------------------
req "$BASE/protected/page.html?x=1"
why="$status $location"
check "signed out: the protected app answers 302 to /login?next=<the page>" \
  '[ "$status" = 302 ] && [ "$location" = "$BASE/login?next=/protected/page.html?x=1" ]'
check "signed out: the protected page is not served" '! body_has "$MARKER"'
req -X POST -d a=1 "$BASE/protected/page.html"
why="$status $location"
check "signed out: a POST to the protected app also goes to the login" '[ "$status" = 302 ]'
req -H 'X-Auth-Request-User: 00000000-0000-0000-0000-000000000000' "$BASE/protected/"
why="$status"
check "signed out: a client-sent X-Auth-Request-User does not get in" '[ "$status" = 302 ]'

bob=$work/bob.jar
check "login as bob, started by the protected app's redirect" 'login bob "$bob" "/protected/page.html?x=1"'
why="Location: $location"
check "the callback returns bob to the protected page" \
  '[[ "$location" == "/protected/page.html?x=1" || "$location" == "$BASE/protected/page.html?x=1" ]]'
req -b "$bob" -H 'Accept: application/json' "$BASE/chat"
bob_id=$(sed -n 's/.*"user_id":"\([^"]*\)".*/\1/p' "$B")
why="user_id '$bob_id'"
check "bob has a user id" '[[ "$bob_id" =~ $UUID_RE ]]'
seen_before=$(count "$ngx/logs/static.log" "user=$bob_id")
req -b "$bob" -H 'X-Auth-Request-User: 00000000-0000-0000-0000-000000000000' "$BASE/protected/page.html?x=1"
why="status $status"
check "signed in: the protected page is served (200 with its marker)" '[ "$status" = 200 ] && body_has "$MARKER"'
last_seen=$(tail -n 1 "$ngx/logs/static.log")
why="the static app's log: $last_seen"
check "the protected app received X-Auth-Request-User (bob's id) and X-Auth-Request-Email" \
  '[ "$(count "$ngx/logs/static.log" "user=$bob_id")" -gt "$seen_before" ] && grep -q "user=$bob_id email=bob@example.test" <<<"$last_seen"'
check "the client's own X-Auth-Request-User was replaced" '! grep -q "user=00000000-0000" <<<"$last_seen"'
why="the static app's log: $(grep -m1 'access_token=\|refresh_token=\|doorman_login=' "$ngx/logs/static.log" | head -c 200)"
check "the protected app did not receive doorman's cookies" \
  '! grep -q "access_token=\|refresh_token=\|doorman_login=" "$ngx/logs/static.log"'
bob_access=$(jar_value "$bob" access_token)
req -H "Cookie: access_token=$bob_access; app_pref=dark; refresh_token=$(jar_value "$bob" refresh_token); theme=1" \
  "$BASE/protected/page.html"
last_seen=$(tail -n 1 "$ngx/logs/static.log")
why="status $status; the static app's log: $last_seen"
check "the protected app keeps its own cookies" '[ "$status" = 200 ] && grep -q "cookie=\"app_pref=dark; theme=1\"" <<<"$last_seen"'
req -b "$bob" -X POST -d a=1 "$BASE/protected/page.html"
why="status $status (405: the static app refusing a POST, so the login check passed; 500: the check failed)"
check "signed in: a POST reaches the protected app" '[ "$status" = 405 ]'
req -b "$bob" -I "$BASE/protected/page.html"
why="status $status"
check "signed in: a HEAD reaches the protected app" '[ "$status" = 200 ]'

# An expired access token is renewed by /auth/verify. Presenting only the refresh cookie is what a
# browser does once the access cookie has expired. Both renewed cookies must reach the browser:
# the refresh token has been rotated, and the old one stops working.
bob_refresh=$(jar_value "$bob" refresh_token)
req -H "Cookie: refresh_token=$bob_refresh" "$BASE/protected/"
renewed_access=$(set_cookie access_token) renewed_refresh=$(set_cookie refresh_token)
new_refresh=$(cookie_value refresh_token "$renewed_refresh")
why="status $status"
check "renewal through the protected app: 200 with the page" '[ "$status" = 200 ] && body_has "$MARKER"'
why="Set-Cookie: $(grep -i '^set-cookie' "$H" | cut -c1-70 | tr -d '\r' | tr '\n' '|')"
check "renewal through the protected app: a new access_token and the rotated refresh_token, as two cookies" \
  '[ -n "$(cookie_value access_token "$renewed_access")" ] && [ -n "$new_refresh" ] && [ "$new_refresh" != "$bob_refresh" ]'
why="$renewed_access | $renewed_refresh"
check "the renewed cookies are Secure, HttpOnly, SameSite=Lax" 'secure_flags "$renewed_access" && secure_flags "$renewed_refresh"'
req -H "Cookie: refresh_token=$new_refresh" "$BASE/protected/"
newer_refresh=$(cookie_value refresh_token "$(set_cookie refresh_token)")
why="status $status"
check "the rotated refresh token is the live one (it renews again)" \
  '[ "$status" = 200 ] && [ -n "$newer_refresh" ] && [ "$newer_refresh" != "$new_refresh" ]'
req -H "Cookie: access_token=$(cookie_value access_token "$renewed_access")" -H 'Accept: application/json' "$BASE/chat"
why="status $status"
check "the renewed access token signs bob in" '[ "$status" = 200 ] && body_has "\"name\":\"Bob\""'

# --- e. /auth/verify ------------------------------------------------------------------------------
for n in 1 2; do
  url_var=APP$n
  req "${!url_var}/auth/verify"
  s1=$status loc1=$location
  req -H 'Accept: text/html' "${!url_var}/auth/verify"
  why="plain: $s1 '$loc1'; Accept text/html: $status '$location'"
  check "instance $n: /auth/verify without a cookie is 401, never a redirect" \
    '[ "$s1" = 401 ] && [ -z "$loc1" ] && [ "$status" = 401 ] && [ -z "$location" ]'
done
req -H "Cookie: access_token=$access" "$APP2/auth/verify"
why="status $status, user '$(header x-auth-request-user)', email '$(header x-auth-request-email)'"
check "/auth/verify with alice's cookie: 204 with X-Auth-Request-User and X-Auth-Request-Email" \
  '[ "$status" = 204 ] && [[ "$(header x-auth-request-user)" =~ $UUID_RE ]] && [ "$(header x-auth-request-email)" = alice@example.test ]'
req "$BASE/_doorman_verify"
why="status $status"
check "the internal verify location is not reachable from outside" '[ "$status" = 404 ]'

# --- f. Graceful shutdown and failover ------------------------------------------------------------
t0=$(date +%s%N)
kill -TERM "$app1_pid"
for _ in $(seq 120); do kill -0 "$app1_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$app1_pid" 2>/dev/null; then
  not_ok "instance 1 exits within 12 s of SIGTERM" "still running after 12 s"
  kill -KILL "$app1_pid" 2>/dev/null
  wait "$app1_pid" 2>/dev/null
else
  wait "$app1_pid"
  rc=$? ms=$((($(date +%s%N) - t0) / 1000000))
  why="exit status $rc"
  check "instance 1 exits with status 0 within 12 s of SIGTERM (took ${ms} ms)" '[ "$rc" = 0 ]'
fi
app1_pid=''
codes=''
for _ in 1 2 3 4; do req "$BASE/healthz"; codes+="$status "; done
why="$codes"
check "with instance 1 gone, nginx sends every request to instance 2 (/healthz: 200 x4)" '[ "$codes" = "200 200 200 200 " ]'
refused=$(grep -c "Connection refused) while connecting to upstream.*upstream: \"http://127.0.0.1:$app1_port/" "$ngx/logs/doorman.error.log")
why="nginx's error log has $refused such line(s)"
check "nginx tried instance 1, found it closed and retried on instance 2" '[ "$refused" -ge 1 ]'
req -b "$alice" "$BASE/chat"
why="status $status"
check "alice is still signed in (instance 2)" '[ "$status" = 200 ] && body_has "Welcome, Alice!"'
req -b "$bob" "$BASE/protected/"
why="status $status"
check "the protected app still works (its check on instance 2)" '[ "$status" = 200 ] && body_has "$MARKER"'

# --- systemd units ----------------------------------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
  units=$work/units
  mkdir -p "$units"
  for unit in doorman.service doorman@.service; do
    sed "s#/usr/local/bin/doorman#$BIN#" "deploy/$unit" >"$units/$unit"   # verify wants the binary to exist
  done
  cp "$units/doorman@.service" "$units/doorman@8001.service"
  why=$(cd "$units" && systemd-analyze verify --man=no ./doorman.service ./doorman@8001.service 2>&1 | head -n 5)
  check "deploy/doorman.service and doorman@.service pass systemd-analyze verify" '[ -z "$why" ]'
else
  ok "the systemd units pass systemd-analyze verify # SKIP no systemd-analyze"
fi

# --- Logs -----------------------------------------------------------------------------------------
check "nginx's access log holds no authorization codes" '! grep -q "code=" "$ngx/logs/doorman.access.log"'

echo "$passed passed, $failed failed"
echo "# $(($(date +%s) - started)) s" >&2
[ "$failed" -eq 0 ]
