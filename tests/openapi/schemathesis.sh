#!/usr/bin/env bash
# The OpenAPI document against the real app: openapi-spec-validator checks that
# /api/openapi.json is valid OpenAPI 3.1, then schemathesis generates requests from it (valid
# and invalid ones) and checks every answer: no 5xx, and status, content type and body as the
# document says: once signed out, once with a real access token. Traffic goes to 127.0.0.1
# only, bounded in examples and time.
#
#   bash tests/openapi/schemathesis.sh
#
# Needs the PostgreSQL server of TEST_DATABASE_URL (a fresh database is created and dropped)
# and the identity provider of TEST_OIDC_ISSUER (scripts/test starts both), and
# target/debug/doorman (built when missing; DOORMAN_BIN overrides). Python packages go into a
# venv under the target directory, made once.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../../scripts/lib.sh
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"

[ -n "${TEST_DATABASE_URL:-}" ] || die "TEST_DATABASE_URL is not set (scripts/test sets it)"
[ -n "${TEST_OIDC_ISSUER:-}" ] || die "TEST_OIDC_ISSUER is not set (scripts/test sets it)"
target=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${DOORMAN_BIN:-$target/debug/doorman}
[ -x "$BIN" ] || cargo build --quiet --bin doorman

# Pinned: the checks' names and the CLI's flags change between releases.
requirements="schemathesis==4.32.5 openapi-spec-validator==0.9.0"
venv=$target/schemathesis-venv
if [ "$(cat "$venv/.requirements" 2>/dev/null)" != "$requirements" ]; then
  python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
  say "installing $requirements (pip, into ${venv#"$ROOT"/})"
  rm -rf "$venv"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check $requirements
  echo "$requirements" >"$venv/.requirements"
fi

work=$(mktemp -d /tmp/doorman-schemathesis.XXXXXX)
pid='' test_db="doorman_schemathesis_$$"
cleanup() {
  local status=$?
  set +e
  [ "$status" -ne 0 ] && [ -s "$work/app.log" ] && { echo "--- last lines of the app's log" >&2; tail -n 30 "$work/app.log" >&2; }
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
  psql -X -q "$TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS \"$test_db\" WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql -X -q "$TEST_DATABASE_URL" -c "CREATE DATABASE \"$test_db\"" >/dev/null
database_url=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(p._replace(path="/" + sys.argv[2]).geturl())' \
  "$TEST_DATABASE_URL" "$test_db")
port=$(free_port)
app=http://127.0.0.1:$port
# A client of our own at the provider, so that one real browser sign-in gives the second run
# an access token.
registration=$(curl -fsS "$TEST_OIDC_ISSUER/reg" -H 'Content-Type: application/json' \
  -d "{\"redirect_uris\":[\"$app/auth\"],\"grant_types\":[\"authorization_code\"],\"response_types\":[\"code\"]}")
field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$registration" "$1"; }
# The rate limit is off: its 429 is documented, but a run that is mostly 429s tests little else.
DATABASE_URL="$database_url" OIDC_ISSUER="$TEST_OIDC_ISSUER" GOOGLE_CLIENT_ID="$(field client_id)" \
  GOOGLE_CLIENT_SECRET="$(field client_secret)" REDIRECT_URL="$app/auth" \
  BIND_ADDR="127.0.0.1:$port" COOKIE_SECURE=false RATE_LIMIT_PER_SECOND=0 \
  JWT_PRIVATE_KEY_FILE="$ROOT/tests/fixtures/access_ed25519.pem" \
  SECRET_KEY="test-only-session-key-$(head -c 24 /dev/urandom | base64)" \
  JWT_SECRET_KEY="test-only-jwt-key-$(head -c 24 /dev/urandom | base64)" \
  RUST_LOG=warn "$BIN" >"$work/app.log" 2>&1 &
pid=$!
wait_for "the app (log: $work/app.log)" 30 curl -fsS "$app/readyz"

curl -fsS "$app/api/openapi.json" -o "$work/openapi.json"
"$venv/bin/python" - "$work/openapi.json" <<'PY'
import json, sys
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator
document = json.load(open(sys.argv[1]))
assert document["openapi"].startswith("3.1"), document["openapi"]
validate(document, cls=OpenAPIV31SpecValidator)
print("ok - /api/openapi.json is valid OpenAPI", document["openapi"])
PY

# One sign-in as a browser: /login → the provider's login form → /auth, which sets the cookies.
location() { curl -sS -o /dev/null -w '%{redirect_url}' -b "$work/jar" -c "$work/jar" "$@"; }
interaction=$(location "$(location "$app/login")")
action=$(curl -fsS -b "$work/jar" -c "$work/jar" "$interaction" | python3 -c '
import re, sys, urllib.parse
page = sys.stdin.read()
print(urllib.parse.urljoin(sys.argv[1], re.search(r"<form[^>]*action=\"([^\"]+)\"", page).group(1)))' "$interaction")
callback=$(location "$(location -d prompt=login -d login=schemathesis -d password=anything "$action")")
location -H 'Accept: text/html' "$callback" >/dev/null
access=$(awk '$6 == "access_token" { print $7 }' "$work/jar")
[ -n "$access" ] || die "the sign-in for schemathesis set no access cookie"

# Accept asks for JSON: the routes outside /api/ then answer JSON too, the face this document
# is about (their HTML pages are the browser test's).
cd "$work" # schemathesis keeps a cache of found failures in the current folder
schemathesis() { # seconds, arguments...
  local seconds=$1; shift
  timeout $((seconds + 60)) "$venv/bin/schemathesis" run "$work/openapi.json" --url "$app" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --header 'Accept: application/json' --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-30}" \
    --max-time "$seconds" --seed "${SCHEMATHESIS_SEED:-1}" --workers 2 \
    --max-redirects 0 --request-timeout 10 --no-color "$@"
}
say "schemathesis, signed out"
schemathesis "${SCHEMATHESIS_MAX_TIME:-60}"
# Signed in, the guarded routes answer their 200s and 204s (and /auth/forward its redirects).
say "schemathesis, signed in (the pages and gateway routes)"
schemathesis "${SCHEMATHESIS_SIGNED_IN_MAX_TIME:-30}" --include-tag pages --include-tag gateway \
  --header "Authorization: Bearer $access"
