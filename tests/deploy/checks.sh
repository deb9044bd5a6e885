# Shared by the deployment tests: numbered checks and one-request helpers around curl.
# The sourcing script sets H and B (files for the last response's headers and body), `work` and
# CURL_ARGS (extra curl options, e.g. --cacert). Checks are shell code in single quotes,
# evaluated by check().
# shellcheck shell=bash disable=SC2034
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; if [ -n "${2:-}" ]; then echo "#   $2"; fi; }
# check NAME CONDITION: CONDITION is shell code, evaluated; $why, if set, explains a failure.
why=
check() {
  if eval "$2"; then ok "$1"; else not_ok "$1" "$why"; fi
  why=
}
# req ARGS...: one request, no redirects followed; sets $status and $location, headers in $H, body in $B.
req() {
  status=$(curl -sS "${CURL_ARGS[@]}" -o "$B" -D "$H" -w '%{http_code}' "$@" 2>"$work/curl.err") \
    || status="curl-failed:$(head -c 200 "$work/curl.err")"
  location=$(header location)
}
header() { sed -n "s/^$1: *//Ip" "$H" | tr -d '\r' | head -n 1; }
set_cookie() { sed -n "s/^set-cookie: *\($1=.*\)/\1/Ip" "$H" | tr -d '\r'; }   # the Set-Cookie of a name
# at_provider NAME JAR CALLBACK: from $location (the app's 303 to the provider), through the local
# provider's login form as NAME, to the app's callback URL (a prefix, e.g. https://host/auth), left
# in $location; fails with $why set. ISSUER is the provider's URL.
at_provider() {
  local name=$1 jar=$2 callback=$3 hops=0
  req -c "$jar" -b "$jar" "$location"
  [ "$status" = 303 ] || { why="provider's authorization endpoint: $status"; return 1; }
  [[ "$location" == /* ]] && location=$ISSUER$location
  req -c "$jar" -b "$jar" --data-urlencode prompt=login --data-urlencode "login=$name" \
    --data-urlencode password=x "$location"
  while [[ "$status" == 30[23] ]]; do
    [[ "$location" == /* ]] && location=$ISSUER$location
    [[ "$location" == "$callback?"* ]] && break
    [ $((hops += 1)) -le 5 ] || break
    req -c "$jar" -b "$jar" "$location"
  done
  [[ "$location" == "$callback?"*code=* ]] || { why="the provider did not send the browser back: $status $location"; return 1; }
}
