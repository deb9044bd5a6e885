#!/usr/bin/env python3
"""Prices the parts of a login from a callgrind dump of the app (bench/callgrind, BENCH_TOOL=logins).

Usage: callgrind-logins.py LOGINS DUMP...

Inclusive instruction counts (callgrind_annotate --inclusive=yes) of the functions that begin
each part, divided by the logins; a part's children are counted in it, so the parts overlap
where one calls another (the indentation says which), and "total" is every instruction of every
thread. Prints the table as Markdown.
"""
import re
import subprocess
import sys

logins = int(sys.argv[1])
dumps = sys.argv[2:]



def annotate():
    """(inclusive instructions, function) of every function in the dumps, and the program's total."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=99.9", *dumps],
                          capture_output=True, text=True, check=True).stdout
    rows, whole = [], 0
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+)(?: \([\d.]+%\))?\s+(.*)$", line)
        if not m:
            continue
        ir, name = int(m[1].replace(",", "")), m[2].strip()
        if name.startswith("PROGRAM TOTALS"):
            whole = ir
            continue
        name = re.sub(r"^[^:]*:", "", name, count=1)  # the file part ("???:")
        rows.append((ir, re.sub(r" \[[^\]]*\]$", "", name)))  # without the object
    return rows, whole


inclusive_rows, total = annotate()
functions = {}
for ir, name in inclusive_rows:
    functions[name] = max(functions.get(name, 0), ir)

# (label, depth, pattern): the first function matching the pattern prices the part.
PARTS = [
    ("GET /login, GET /auth, GET /chat: every instruction of every thread", 0, None),
    ("the request workers: actix-http's dispatcher and everything under it", 1, r"^<actix_http::h1::dispatcher::Dispatcher<.*as core::future::future::Future>::poll$"),
    ("GET /login: the handler (state, nonce, PKCE, authorize URL)", 2, r"^doorman::routes::login::redirect_to::\{\{closure\}\}$"),
    ("the login cookie: encrypt, decrypt (actix-session)", 2,
     r"^actix_session::middleware::(set_session_cookie|extract_session_key)$"),
    ("GET /auth: the handler", 2, r"^doorman::routes::callback::complete::\{\{closure\}\}$"),
    ("code exchange: the token request (oauth2, reqwest, hyper)", 3, r"^oauth2::reqwest_client::.*call::\{\{closure\}\}$"),
    ("ID token: parse (openidconnect)", 3, r"JsonWebTokenVisitor.*visit_str$"),
    ("ID token: verify (RS256 with ring, claims)", 3, r"^doorman::oidc::verify::IdTokenRules::verify$"),
    ("sign-in: the statement, on a blocking thread (diesel, libpq)", 3, r"^doorman::db::sign_in::sign_in$"),
    ("access and refresh token: sign (HS256)", 3, r"^doorman::services::sign_in::Issued::new$"),
    ("GET /chat: verify the access token", 2, r"^<doorman::auth::AuthenticatedUser as actix_web::extract::FromRequest>::from_request$"),
    ("other log lines (env_logger)", 2, r"^<env_logger::logger::Logger as log::Log>::log$"),
]


def find(pattern):
    for name, ir in sorted(functions.items(), key=lambda kv: -kv[1]):
        if re.search(pattern, name):
            return ir
    return 0


print(f"| part of a login ({logins} logins, one at a time) | instructions per login | share |")
print("|---|---:|---:|")
for label, depth, pattern in PARTS:
    if pattern is None:
        ir = total
    elif "|" in pattern:  # parts made of several functions, none calling another
        ir = sum(v for name, v in functions.items() if re.search(pattern, name))
    else:
        ir = find(pattern)
    indent = "&nbsp;&nbsp;" * depth
    print(f"| {indent}{label} | {ir / logins / 1000:,.1f}k | {100 * ir / total:.1f} % |")
