#!/usr/bin/env bash
# Tests the gateway with a real Caddy (Debian's package) running deploy/caddy/Caddyfile as it is
# (only its environment differs): doorman at login.doorman.test, two apps on sibling host names
# (app1.doorman.test, app2.doorman.test; curl --resolve sends them to 127.0.0.1) behind
# forward_auth, each a small upstream (tests/browser/gateway-upstream.mjs) that verifies
# X-Auth-Request-Jwt against doorman's JWKS. One login (COOKIE_DOMAIN=doorman.test) covers both
# apps. (Not *.localhost: curl keeps a cookie for Domain=localhost to that host alone.)
# Then the same with a real nginx running deploy/nginx/protect-other-host.conf (placeholders
# replaced) for a third app on two more host names, app3 and app4.doorman.test.
#
#   bash tests/deploy/gateway-test.sh
#
# Needs target/debug/doorman (built when missing; DOORMAN_BIN overrides) and the PostgreSQL
# server of TEST_DATABASE_URL (a fresh database is created and dropped). Everything listens on
# 127.0.0.1, on free ports. Prints `ok - <name>` / `not ok - <name>` per check.
# shellcheck disable=SC2016,SC2034
set -euo pipefail
# shellcheck source=SCRIPTDIR/../../scripts/lib.sh
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"
# shellcheck source=SCRIPTDIR/checks.sh
source "$ROOT/tests/deploy/checks.sh"

command -v caddy >/dev/null || apt_install caddy
command -v nginx >/dev/null || apt_install nginx
[ -n "${TEST_DATABASE_URL:-}" ] || die "TEST_DATABASE_URL is not set (scripts/test sets it)"
npm_install "$ROOT/dev/idp"
npm_install "$ROOT/tests/browser"
BIN=${DOORMAN_BIN:-$ROOT/target/debug/doorman}
[ -x "$BIN" ] || cargo build --quiet --bin doorman

work=$(mktemp -d /tmp/doorman-gateway-test.XXXXXX)
chmod 755 "$work"
H=$work/headers B=$work/body
pids=() test_db=''
cleanup() {
  local status=$?
  set +e
  if [ "$failed" -gt 0 ] || [ "$status" -ne 0 ]; then
    for log in doorman.log caddy.log idp.log app1.log app2.log app3.log nginx/error.log; do
      [ -s "$work/$log" ] && { echo "--- last lines of $log" >&2; tail -n 15 "$work/$log" >&2; }
    done
  fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  [ -n "$test_db" ] && psql -X -q "$TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS \"$test_db\" WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

caddy_port=$(free_port) caddy_admin_port=$(free_port) doorman_port=$(free_port) idp_port=$(free_port)
app1_port=$(free_port) app2_port=$(free_port) app3_port=$(free_port) nginx_port=$(free_port)
LOGIN=http://login.doorman.test:$caddy_port
APP1=http://app1.doorman.test:$caddy_port
APP2=http://app2.doorman.test:$caddy_port
APP3=http://app3.doorman.test:$nginx_port
APP4=http://app4.doorman.test:$nginx_port
DOORMAN=http://127.0.0.1:$doorman_port
ISSUER=http://127.0.0.1:$idp_port

test_db=doorman_gateway_$(date +%s)_$$
psql -X -q -v ON_ERROR_STOP=1 "$TEST_DATABASE_URL" -c "CREATE DATABASE \"$test_db\"" >/dev/null
base=${TEST_DATABASE_URL%%\?*}
authority=${base#*://} authority=${authority%%/*}
database_url=${base%%://*}://$authority/$test_db

secret="gateway-test-secret-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
pids+=("$(start_idp "$idp_port" doorman-gateway "$secret" "$LOGIN/auth" "$work/idp.log")")
for n in 1 2 3; do
  port_var=app${n}_port
  PORT=${!port_var} NAME=app$n JWKS_URL=$DOORMAN/.well-known/jwks.json ISSUER=$LOGIN \
    node "$ROOT/tests/browser/gateway-upstream.mjs" >"$work/app$n.log" 2>&1 &
  pids+=("$!")
done
DATABASE_URL=$database_url OIDC_ISSUER=$ISSUER GOOGLE_CLIENT_ID=doorman-gateway GOOGLE_CLIENT_SECRET=$secret \
  REDIRECT_URL=$LOGIN/auth BIND_ADDR=127.0.0.1:$doorman_port COOKIE_SECURE=false COOKIE_DOMAIN=doorman.test \
  ALLOWED_REDIRECT_HOSTS=.doorman.test JWT_PRIVATE_KEY_FILE=$ROOT/tests/fixtures/access_ed25519.pem \
  SECRET_KEY="gateway-session-key-$(head -c 24 /dev/urandom | base64)" \
  JWT_SECRET_KEY="gateway-jwt-key-$(head -c 24 /dev/urandom | base64)" RUST_LOG=info \
  "$BIN" >"$work/doorman.log" 2>&1 &
pids+=("$!")
(cd "$work" && DOORMAN_SITE=$LOGIN DOORMAN_UPSTREAM=127.0.0.1:$doorman_port \
  APP1_SITE=$APP1 APP1_UPSTREAM=127.0.0.1:$app1_port APP2_SITE=$APP2 APP2_UPSTREAM=127.0.0.1:$app2_port \
  APP2_ALLOWED_DOMAINS=corp.example CADDY_ADMIN=127.0.0.1:$caddy_admin_port XDG_DATA_HOME=$work XDG_CONFIG_HOME=$work HOME=$work \
  exec caddy run --config "$ROOT/deploy/caddy/Caddyfile" --adapter caddyfile) >"$work/caddy.log" 2>&1 &
pids+=("$!")
# nginx: the deploy file with its placeholders replaced, and the cookie maps of doorman.conf.
mkdir -p "$work/nginx"
sed -e "s#listen 443 ssl http2;#listen 127.0.0.1:$nginx_port;#" -e '/ssl_certificate/d' \
    -e 's#server_name app.example.com;#server_name app3.doorman.test app4.doorman.test;#' \
    -e 's#Domain=example.com; #Domain=doorman.test; #' -e 's#Secure; ##' \
    -e "s#127.0.0.1:3000#127.0.0.1:$app3_port#" deploy/nginx/protect-other-host.conf >"$work/nginx/app.conf"
grep -v '^ *#' "$work/nginx/app.conf" | grep -q 'example\.com\|:3000;' && die "protect-other-host.conf: a placeholder is left"
grep -q "listen 127.0.0.1:$nginx_port;" "$work/nginx/app.conf" || die "protect-other-host.conf: its listen line was not found"
awk '/^map \$http_cookie \$doorman_cookie_1/ { p = 1 } p { print } p && /\$doorman_app_cookie/ { q = 1 } q && /^}/ { exit }' \
  deploy/nginx/doorman.conf >"$work/nginx/maps.conf"
grep -q 'doorman_app_cookie {' "$work/nginx/maps.conf" || die "deploy/nginx/doorman.conf: the cookie maps were not found"
cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    upstream doorman { server 127.0.0.1:$doorman_port; }
    include $work/nginx/maps.conf;
    include $work/nginx/app.conf;
}
NGINX
nginx -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=("$!")
wait_for "doorman (log: $work/doorman.log)" 30 curl -fsS "$DOORMAN/readyz"
wait_for "caddy (log: $work/caddy.log)" 30 curl -fsS --resolve "login.doorman.test:$caddy_port:127.0.0.1" "$LOGIN/healthz"
wait_for "nginx (log: $work/nginx/error.log)" 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$nginx_port"
wait_for "the upstreams" 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$app1_port && exec 4<>/dev/tcp/127.0.0.1/$app2_port"
say "caddy on :$caddy_port (login, app1, app2 .doorman.test), nginx on :$nginx_port (app3, app4), doorman on :$doorman_port, provider on :$idp_port"

set +e
CURL_ARGS=(--max-time 15)
for host in login app1 app2; do CURL_ARGS+=(--resolve "$host.doorman.test:$caddy_port:127.0.0.1"); done
for host in app3 app4; do CURL_ARGS+=(--resolve "$host.doorman.test:$nginx_port:127.0.0.1"); done
HTML='Accept: text/html,application/xhtml+xml'
jar=$work/jar
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get(sys.argv[2]))' "$B" "$1"; }

# login_at_provider NAME: from $location (doorman's 303 to the provider) through the provider's
# form to doorman's callback; leaves the callback's answer in $H/$B.
login_at_provider() {
  at_provider "$1" "$jar" "$LOGIN/auth" && req -c "$jar" -b "$jar" -H "$HTML" "$location"
}

# --- Signed out: the app sends the browser to the login, which sends it back ---------------------
req -H "$HTML" "$APP1/hello?x=1&y=2"
next_url="$APP1/hello?x=1&y=2"
encoded=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$next_url")
why="$status $location"
check "signed out, a browser at app1 gets 302 to the login with the page as next" \
  '[ "$status" = 302 ] && [ "$location" = "$LOGIN/login?next=$encoded" ]'
login_url=$location
req -H 'Accept: application/json' "$APP1/hello"
check "signed out, an API client at app1 gets 401" '[ "$status" = 401 ]'

req -c "$jar" -b "$jar" -H "$HTML" "$login_url"
why="$status $location"
check "the login (through Caddy) goes to the provider" '[ "$status" = 303 ] && [[ "$location" == "$ISSUER/"* ]]'
login_at_provider alice
why="$status $location $(head -c 200 "$B")"
check "after the provider, back on the original URL on the original host" \
  '[ "$status" = 303 ] && [ "$location" = "$next_url" ]'
access_cookie=$(set_cookie access_token)
why=$access_cookie
check "the access cookie is for the parent domain (COOKIE_DOMAIN)" 'grep -qi "domain=doorman.test" <<<"$access_cookie"'

# --- Signed in: the app gets the identity and a JWT it verifies ----------------------------------
req -c "$jar" -b "$jar" -H "$HTML" -H "X-Auth-Request-User: forged-admin" "$location"
why="$status $(head -c 300 "$B")"
check "signed in, app1 answers" '[ "$status" = 200 ] && [ "$(json app)" = app1 ]'
why=$(head -c 600 "$B")
check "app1 gets the user's id and email from doorman, not the client's forged header" \
  '[[ "$(json user)" =~ ^[0-9a-f-]{36}$ ]] && [ "$(json email)" = alice@example.test ]'
check "app1 verifies X-Auth-Request-Jwt against the JWKS, for its own host" \
  '[ "$(json verified)" = True ] && [ "$(json jwt_aud)" = "app1.doorman.test:$caddy_port" ] && [ "$(json jwt_sub)" = "$(json user)" ]'
why=$(json cookie)
check "app1 gets none of doorman's cookies" '! grep -qE "access_token|refresh_token" <<<"$why"'
req -c "$jar" -b "$jar" -H "$HTML" "$APP2/"
why="$status $(head -c 300 "$B")"
check "app2 (allowed_domains=corp.example) refuses alice@example.test with a 403 page" \
  '[ "$status" = 403 ] && grep -q "open to other accounts only" "$B"'

# --- nginx, for app3 and app4 ----------------------------------------------------------------------
for app in "$APP3" "$APP4"; do
  host=${app#http://} host=${host%%:*}
  req -H "$HTML" "$app/page?a=1&b=2"
  encoded=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$app/page?a=1&b=2")
  why="$status $location"
  check "nginx, signed out: a browser at $host gets 302 to the login with the whole URL as next" \
    '[ "$status" = 302 ] && [ "$location" = "$LOGIN/login?next=$encoded" ]'
  req -H 'Accept: application/json' "$app/page"
  check "nginx, signed out: an API client at $host gets 401" '[ "$status" = 401 ]'
  req -b "$jar" -H "$HTML" -H "X-Auth-Request-User: forged-admin" "$app/page"
  why="$status $(head -c 300 "$B")"
  check "nginx, signed in (the login at login.doorman.test): $host gets alice, not the forged header" \
    '[ "$status" = 200 ] && [ "$(json email)" = alice@example.test ] && [[ "$(json user)" =~ ^[0-9a-f-]{36}$ ]]'
  check "nginx: the app at $host verifies its JWT (aud = $host)" \
    '[ "$(json verified)" = True ] && [ "$(json jwt_aud)" = "$host:$nginx_port" ]'
  why=$(json cookie)
  check "nginx: $host gets none of doorman's cookies" '! grep -qE "access_token|refresh_token" <<<"$why"'
done

# --- An absolute next outside ALLOWED_REDIRECT_HOSTS ends on FRONTEND_URL -------------------------
for bad in "http://evil.example/" "http://app1.doorman.test.evil.example/" "http://app1.doorman.test@evil.example/" \
  "//evil.example/" "http:evil.example" "javascript://app1.doorman.test/%0aalert(1)" "http://doorman.test.evil.example/"; do
  rm -f "$jar"
  encoded=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$bad")
  req -c "$jar" -b "$jar" -H "$HTML" "$LOGIN/login?next=$encoded"
  login_at_provider bob
  why="$status $location"
  check "next=$bad ends on FRONTEND_URL" '[ "$status" = 303 ] && [ "$location" = /chat ]'
done

[ -n "${GATEWAY_DEBUG:-}" ] && cat "$B"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
