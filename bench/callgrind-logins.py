#!/usr/bin/env python3
"""Prices the parts of a login from a callgrind dump of the app (bench/callgrind, BENCH_TOOL=logins).

Usage: callgrind-logins.py LOGINS DUMP...

Inclusive instruction counts (callgrind_annotate --inclusive=yes) of the functions that begin
each part, divided by the logins; a part's children are counted in it, so the parts overlap
where one calls another (the tree below says which), and "total" is every instruction of every
thread. Prints the table as Markdown.
"""
import re
import subprocess
import sys

logins = int(sys.argv[1])
dumps = sys.argv[2:]

out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=99.9", *dumps],
                     capture_output=True, text=True, check=True).stdout
total = 0
functions = {}
for line in out.splitlines():
    m = re.match(r"\s*([\d,]+)(?: \([\d.]+%\))?\s+(.*)$", line)
    if not m:
        continue
    ir, name = int(m[1].replace(",", "")), m[2].strip()
    if name.startswith("PROGRAM TOTALS"):
        total = ir
        continue
    name = re.sub(r"^[^:]*:", "", name, count=1)  # the file part ("???:")
    name = re.sub(r" \[[^\]]*\]$", "", name)  # the object
    functions[name] = max(functions.get(name, 0), ir)

# (label, depth, pattern): the first function matching the pattern prices the part.
PARTS = [
    ("GET /login, GET /auth, GET /chat: every instruction of every thread", 0, None),
    ("HTTP/1 server: reading requests, writing responses (actix-http dispatcher)", 1, r"^<actix_http::h1::dispatcher::Dispatcher<.*as core::future::future::Future>::poll$"),
    ("GET /login: the handler (state, nonce, PKCE, authorize URL)", 2, r"^doorman::routes::login::redirect_to::\{\{closure\}\}$"),
    ("the login cookie: encrypt, decrypt (actix-session)", 2, r"^actix_session::middleware::set_session_cookie$"),
    ("", 2, r"^actix_session::middleware::extract_session_key$"),
    ("GET /auth: the handler", 2, r"^doorman::routes::callback::complete::\{\{closure\}\}$"),
    ("code exchange: the token request (oauth2, reqwest, hyper)", 3, r"^oauth2::reqwest_client::.*call::\{\{closure\}\}$"),
    ("ID token: parse (openidconnect)", 3, r"JsonWebTokenVisitor.*visit_str$"),
    ("ID token: verify (RS256 with ring, claims)", 3, r"^doorman::oidc::verify::IdTokenRules::verify$"),
    ("sign-in: the statement, on a blocking thread (diesel, libpq)", 3, r"^doorman::db::sign_in::sign_in$"),
    ("access and refresh token: sign (HS256)", 3, r"^doorman::services::sign_in::Issued::new$"),
    ("GET /chat: verify the access token", 2, r"^<doorman::auth::AuthenticatedUser as actix_web::extract::FromRequest>::from_request$"),
    ("request log lines (all requests)", 2, r"^doorman::http::access_log::write$"),
    ("other log lines (env_logger)", 2, r"^<env_logger::logger::Logger as log::Log>::log$"),
    ("malloc, free, realloc (self)", 1, None),
]


def find(pattern):
    for name, ir in sorted(functions.items(), key=lambda kv: -kv[1]):
        if re.search(pattern, name):
            return ir
    return 0


# Allocation is priced by its own instructions (--inclusive=no), everything else inclusively.
flat = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=99.9", *dumps],
                      capture_output=True, text=True, check=True).stdout
alloc = 0
for line in flat.splitlines():
    m = re.match(r"\s*([\d,]+)(?: \([\d.]+%\))?\s+(.*)$", line)
    if m and re.search(r":(malloc|free|realloc|calloc|_int_malloc|_int_free|_int_realloc|cfree|malloc_consolidate|unlink_chunk[^ ]*|tcache[^ ]*|__libc_(malloc|free|calloc|realloc))\b", m[2]):
        alloc += int(m[1].replace(",", ""))

print(f"| part of a login ({logins} logins, one at a time) | instructions per login | share |")
print("|---|---:|---:|")
pending = 0
for label, depth, pattern in PARTS:
    if pattern is None:
        ir = total if depth == 0 else alloc
    else:
        ir = find(pattern)
    if not label:  # a second function of the part above
        continue
    if label.startswith("the login cookie"):
        ir += find(PARTS[PARTS.index((label, depth, pattern)) + 1][2])
    indent = "&nbsp;&nbsp;" * depth
    print(f"| {indent}{label} | {ir / logins / 1000:,.1f}k | {100 * ir / total:.1f} % |")
