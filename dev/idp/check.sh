#!/usr/bin/env bash
# Smoke test for the dev identity provider: starts server.mjs on a spare port,
# checks discovery and JWKS, registers a client, then drives a full
# authorization-code + PKCE login with curl alone (no browser) and checks the
# ID token. Exits non-zero on the first failure.
#
#   bash dev/idp/check.sh            # port 9555
#   IDP_CHECK_PORT=9600 bash dev/idp/check.sh
#
# Needs: node + npm (node also parses JSON here), curl, openssl. Runs `npm ci`
# first if dev/idp/node_modules is missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${IDP_CHECK_PORT:-9555}"
issuer="http://127.0.0.1:${port}"
tmp="$(mktemp -d)"
jar="$tmp/cookies.txt"
server_pid=""
passed=0

cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  if [[ -f "$tmp/server.log" ]]; then
    echo "--- server log ---" >&2
    cat "$tmp/server.log" >&2
  fi
  echo "idp-check: ${passed} passed, 1 failed"
  exit 1
}
ok() {
  passed=$((passed + 1))
  echo "ok: $*"
}

# json FILE EXPR: evaluate a JS expression over the parsed JSON in FILE (bound
# to `j`) and print the result (strings bare, everything else as JSON).
json() {
  node -e '
    const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const v = (0, eval)("(j) => (" + process.argv[2] + ")")(j);
    process.stdout.write(typeof v === "string" ? v : JSON.stringify(v) ?? "");
  ' "$1" "$2"
}

# header FILE NAME: the value of a response header in a curl -D dump.
header() {
  awk -v name="$(echo "$2" | tr '[:upper:]' '[:lower:]')" '
    { line = $0; sub(/\r$/, "", line) }
    tolower(substr(line, 1, length(name) + 1)) == name ":" {
      sub(/^[^:]*:[ \t]*/, "", line); print line; exit
    }' "$1"
}

# query_param URL NAME: URL-decoded value of a query parameter.
query_param() {
  node -e 'process.stdout.write(new URL(process.argv[1]).searchParams.get(process.argv[2]) ?? "")' "$1" "$2"
}

# absolute URL: resolve a (possibly relative) Location against the issuer.
absolute() {
  node -e 'process.stdout.write(new URL(process.argv[1], process.argv[2]).href)' "$1" "$issuer/"
}

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# ---------------------------------------------------------------------------
echo "starting idp on ${issuer}"
if [[ ! -d "$here/node_modules/oidc-provider" ]]; then
  echo "installing dependencies (npm ci)"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed in $here"
fi
if curl -s -o /dev/null "$issuer/" 2>/dev/null; then
  fail "something already listens on port ${port}; set IDP_CHECK_PORT"
fi

IDP_PORT="$port" IDP_HOST=127.0.0.1 IDP_ISSUER="$issuer" \
  node "$here/server.mjs" >"$tmp/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 100); do
  grep -q "idp listening on ${issuer}" "$tmp/server.log" && break
  kill -0 "$server_pid" 2>/dev/null || fail "server exited during start-up"
  sleep 0.1
done
grep -q "idp listening on ${issuer}" "$tmp/server.log" || fail "server did not print 'idp listening on ${issuer}' within 10s"
ok "server started (pid ${server_pid})"

# --- discovery -------------------------------------------------------------
curl -fsS "$issuer/.well-known/openid-configuration" -o "$tmp/discovery.json" || fail "discovery request failed"
[[ "$(json "$tmp/discovery.json" 'j.issuer')" == "$issuer" ]] || fail "discovery issuer is not $issuer"
[[ "$(json "$tmp/discovery.json" 'j.authorization_response_iss_parameter_supported')" == "true" ]] \
  || fail "authorization_response_iss_parameter_supported is not true"
[[ "$(json "$tmp/discovery.json" 'j.code_challenge_methods_supported.includes("S256")')" == "true" ]] \
  || fail "code_challenge_methods_supported lacks S256"
ok "discovery: issuer, iss parameter, S256"

jwks_uri="$(json "$tmp/discovery.json" 'j.jwks_uri')"
curl -fsS "$jwks_uri" -o "$tmp/jwks.json" || fail "GET $jwks_uri failed"
[[ "$(json "$tmp/jwks.json" 'j.keys.some((k) => k.kty === "RSA" && k.alg === "RS256" && k.kid && !k.d)')" == "true" ]] \
  || fail "jwks has no public RS256 key: $(cat "$tmp/jwks.json")"
ok "jwks_uri serves a public RS256 key"

# --- dynamic client registration -------------------------------------------
redirect_uri="http://127.0.0.1:45321/auth"
status="$(curl -sS -o "$tmp/client.json" -w '%{http_code}' -X POST "$issuer/reg" \
  -H 'Content-Type: application/json' \
  -d "{\"redirect_uris\":[\"${redirect_uri}\"],\"token_endpoint_auth_method\":\"client_secret_basic\",\"grant_types\":[\"authorization_code\"],\"response_types\":[\"code\"],\"client_name\":\"idp check\"}")"
[[ "$status" == "201" ]] || fail "registration returned HTTP $status: $(cat "$tmp/client.json")"
client_id="$(json "$tmp/client.json" 'j.client_id')"
client_secret="$(json "$tmp/client.json" 'j.client_secret')"
[[ -n "$client_id" && -n "$client_secret" ]] || fail "registration response lacks client_id/client_secret"
ok "registered client ${client_id}"

# --- helpers for one authorization-code + PKCE round trip ------------------------

# new_request CLIENT_ID REDIRECT_URI: fresh PKCE verifier/challenge, state and
# nonce; sets $verifier $state $nonce $auth_query.
new_request() {
  verifier="$(openssl rand 48 | b64url)"
  local challenge
  challenge="$(printf '%s' "$verifier" | openssl dgst -sha256 -binary | b64url)"
  state="$(openssl rand 16 | b64url)"
  nonce="$(openssl rand 16 | b64url)"
  auth_query="$(node -e '
    const [client_id, redirect_uri, state, nonce, code_challenge] = process.argv.slice(1);
    process.stdout.write(new URLSearchParams({
      response_type: "code", client_id, redirect_uri, scope: "openid email profile",
      state, nonce, code_challenge, code_challenge_method: "S256",
    }).toString());
  ' "$1" "$2" "$state" "$nonce" "$challenge")"
}

# follow_to_client JAR LOCATION REDIRECT_URI: GET each Location (with the cookie
# jar) until one points at the client's redirect_uri; checks code, state and
# iss there and sets $code.
follow_to_client() {
  local jar="$1" location="$2" redirect_uri="$3" hops=0
  while [[ "$location" != "$redirect_uri"* ]]; do
    hops=$((hops + 1))
    ((hops <= 5)) || fail "too many redirects before reaching ${redirect_uri}"
    location="$(absolute "$location")"
    echo "   follow -> ${location}"
    curl -sS -o "$tmp/hop.body" -D "$tmp/hop.h" -c "$jar" -b "$jar" "$location"
    location="$(header "$tmp/hop.h" location)"
    [[ -n "$location" ]] || fail "no redirect from hop ${hops}: $(head -n1 "$tmp/hop.h"); body: $(head -c 500 "$tmp/hop.body")"
  done
  echo "   callback: ${location}"
  code="$(query_param "$location" code)"
  [[ -n "$code" ]] || fail "callback has no code (error: $(query_param "$location" error) $(query_param "$location" error_description))"
  [[ "$(query_param "$location" state)" == "$state" ]] || fail "callback state does not match"
  [[ "$(query_param "$location" iss)" == "$issuer" ]] || fail "callback iss is not ${issuer}"
}

# redeem CLIENT_ID CLIENT_SECRET REDIRECT_URI: exchange $code with
# client_secret_basic; sets $id_token.
redeem() {
  local status
  status="$(curl -sS -o "$tmp/token.json" -w '%{http_code}' -X POST "$issuer/token" \
    -u "$1:$2" \
    --data-urlencode "grant_type=authorization_code" --data-urlencode "code=${code}" \
    --data-urlencode "redirect_uri=$3" --data-urlencode "code_verifier=${verifier}")"
  [[ "$status" == "200" ]] || fail "token endpoint returned HTTP $status: $(cat "$tmp/token.json")"
  id_token="$(json "$tmp/token.json" 'j.id_token')"
  [[ -n "$id_token" ]] || fail "token response has no id_token"
}

# check_id_token CLIENT_ID SUB EMAIL NAME INITIALS: verify the ID token payload, the picture
# being an inline SVG avatar with those initials.
check_id_token() {
  node -e '
    const [jwt, issuer, clientId, nonce, sub, email, name, initials] = process.argv.slice(1);
    const [h, p] = jwt.split(".").map((s, i) => i < 2 && JSON.parse(Buffer.from(s, "base64url")));
    const want = {
      alg: [h.alg, "RS256"], iss: [p.iss, issuer], aud: [p.aud, clientId], nonce: [p.nonce, nonce],
      sub: [p.sub, sub], email: [p.email, email], email_verified: [p.email_verified, true], name: [p.name, name],
    };
    const svgPrefix = "data:image/svg+xml;base64,";
    const svg = String(p.picture).startsWith(svgPrefix) ? Buffer.from(p.picture.slice(svgPrefix.length), "base64").toString() : "";
    want.picture = [svg.startsWith("<svg") && svg.includes(`>${initials}</text>`) && p.picture.length <= 600, true];
    const bad = Object.entries(want).filter(([, [got, exp]]) => got !== exp)
      .map(([k, [got, exp]]) => `${k}: got ${JSON.stringify(got)}, want ${JSON.stringify(exp)}`);
    if (bad.length) { console.error(bad.join("\n")); console.error(JSON.stringify(p, null, 2)); process.exit(1); }
    console.log("   id_token claims: " + JSON.stringify(p));
  ' "$id_token" "$issuer" "$1" "$nonce" "$2" "$3" "$4" "$5" || fail "id_token claims are wrong"
}

# --- 1. registered client: full login ------------------------------------------
jar="$tmp/cookies-alice.txt"
new_request "$client_id" "$redirect_uri"

# PKCE is mandatory: the same request without code_challenge must bounce back
# to the client with an error instead of showing a login page.
no_pkce_query="$(printf '%s' "$auth_query" | sed -E 's/&code_challenge=[^&]*//; s/&code_challenge_method=[^&]*//')"
curl -sS -o /dev/null -D "$tmp/nopkce.h" "$issuer/auth?${no_pkce_query}"
no_pkce_location="$(header "$tmp/nopkce.h" location)"
[[ "$no_pkce_location" == "$redirect_uri"* && "$(query_param "$no_pkce_location" error)" == "invalid_request" ]] \
  || fail "request without PKCE was not rejected (Location: ${no_pkce_location:-none})"
ok "authorization request without PKCE is rejected"

curl -sS -o /dev/null -D "$tmp/auth.h" -c "$jar" -b "$jar" "$issuer/auth?${auth_query}"
interaction_url="$(header "$tmp/auth.h" location)"
[[ "$interaction_url" == */interaction/* ]] || fail "GET /auth did not redirect to /interaction/:uid (Location: ${interaction_url:-none})"
interaction_url="$(absolute "$interaction_url")"
ok "GET /auth -> ${interaction_url}"

curl -fsS -o "$tmp/login.html" -c "$jar" -b "$jar" "$interaction_url" || fail "GET $interaction_url failed"
grep -q 'name="login"' "$tmp/login.html" || fail "login page has no input named login"
grep -q 'name="password"' "$tmp/login.html" || fail "login page has no input named password"
grep -q 'name="prompt" value="login"' "$tmp/login.html" || fail "login page has no hidden prompt=login"
grep -q 'type="submit"' "$tmp/login.html" || fail "login page has no submit button"
if grep -Eiq '@import|<link[^>]+https?://|fonts\.googleapis' "$tmp/login.html"; then
  fail "login page still references external resources"
fi
form_action="$(grep -o '<form[^>]*action="[^"]*"' "$tmp/login.html" | head -n1 | sed -E 's/.*action="([^"]*)".*/\1/')"
[[ -n "$form_action" ]] || fail "no form action on the login page"
form_action="$(absolute "$form_action")"
ok "login page: form POST ${form_action} with prompt, login, password; no external resources"

# The login as typed, surrounding spaces and all: the provider trims it.
curl -sS -o /dev/null -D "$tmp/submit.h" -c "$jar" -b "$jar" -X POST "$form_action" \
  --data-urlencode "prompt=login" --data-urlencode "login=  alice.smith  " --data-urlencode "password=anything"
location="$(header "$tmp/submit.h" location)"
[[ -n "$location" ]] || fail "form submit did not redirect: $(head -n1 "$tmp/submit.h")"
follow_to_client "$jar" "$location" "$redirect_uri"
ok "login redirected to the client with code, state and iss"

redeem "$client_id" "$client_secret" "$redirect_uri"
check_id_token "$client_id" "alice.smith" "alice.smith@example.test" "Alice Smith" "AS"
ok "id_token has sub, email, email_verified, name, nonce, an inline SVG picture"

# The code is single use.
status="$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$issuer/token" -u "${client_id}:${client_secret}" \
  --data-urlencode "grant_type=authorization_code" --data-urlencode "code=${code}" \
  --data-urlencode "redirect_uri=${redirect_uri}" --data-urlencode "code_verifier=${verifier}")"
[[ "$status" == "400" ]] || fail "reusing the code returned HTTP $status, want 400"
ok "authorization code cannot be reused"

# --- 2. static client with its default settings, new user, new cookie jar ------
static_id="doorman-dev"
static_secret="doorman-dev-secret-not-for-production"
static_redirect="http://127.0.0.1:8000/auth"
jar="$tmp/cookies-bob.txt"
new_request "$static_id" "$static_redirect"
curl -sS -o /dev/null -D "$tmp/auth.h" -c "$jar" -b "$jar" "$issuer/auth?${auth_query}"
interaction_url="$(absolute "$(header "$tmp/auth.h" location)")"
[[ "$interaction_url" == "$issuer/interaction/"* ]] || fail "static client: no redirect to the login page"
# No GET of the page first: posting straight to /interaction/:uid works too.
curl -sS -o /dev/null -D "$tmp/submit.h" -c "$jar" -b "$jar" -X POST "$interaction_url" \
  --data-urlencode "prompt=login" --data-urlencode "login=Bob.Jones@Example.ORG" --data-urlencode "password="
follow_to_client "$jar" "$(header "$tmp/submit.h" location)" "$static_redirect"
redeem "$static_id" "$static_secret" "$static_redirect"
check_id_token "$static_id" "Bob.Jones@Example.ORG" "bob.jones@example.org" "Bob Jones" "BJ"
ok "static client ${static_id}: login and token exchange"

# Same cookie jar again: the provider session is still there, so /auth goes
# straight back to the client without showing the login page.
new_request "$static_id" "$static_redirect"
curl -sS -o /dev/null -D "$tmp/auth.h" -c "$jar" -b "$jar" "$issuer/auth?${auth_query}"
location="$(header "$tmp/auth.h" location)"
[[ "$location" == "$static_redirect"* ]] || fail "second /auth with a live session did not go straight to the client (Location: ${location:-none})"
follow_to_client "$jar" "$location" "$static_redirect"
redeem "$static_id" "$static_secret" "$static_redirect"
check_id_token "$static_id" "Bob.Jones@Example.ORG" "bob.jones@example.org" "Bob Jones" "BJ"
ok "single sign-on: a second /auth with the same cookies skips the login page"

# --- clean shutdown ------------------------------------------------------------
kill -TERM "$server_pid"
for _ in $(seq 1 50); do
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$server_pid" 2>/dev/null; then
  fail "server did not exit within 5s of SIGTERM"
fi
wait "$server_pid" && rc=0 || rc=$?
server_pid=""
[[ "$rc" == "0" ]] || fail "server exited with status $rc on SIGTERM"
ok "server exits cleanly on SIGTERM"

echo "idp-check: ${passed} passed, 0 failed"
