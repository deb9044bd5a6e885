"""Reads the rounds of a login pair (bench/lib.sh login_pair_rounds): two servers loaded with
logins at the same moment, whose ratio of CPU per login repeats where one server's figure alone
moves by ±15 % on a shared machine. Used by bench/login-pair and bench/report.py.
"""
import json
import statistics


def rounds(out, count):
    """(A's, B's ms of CPU per login) of each round in OUT/aN.json and OUT/bN.json; stops with
    a message when a login failed in any of them (a ratio over failed logins means nothing)."""
    rows = []
    for r in range(1, count + 1):
        a, b = (json.load(open(f"{out}/{side}{r}.json")) for side in "ab")
        for run in (a, b):
            if run["errors"]:
                raise SystemExit(f"login pair, round {r}: {run['errors']} failed logins")
        rows.append((a["cpu"]["app"]["cpu_ms_per_login"], b["cpu"]["app"]["cpu_ms_per_login"]))
    return rows


def medians(rows):
    """The median of A's figures, of B's, and of the rounds' A ÷ B."""
    return (statistics.median(a for a, _ in rows), statistics.median(b for _, b in rows),
            statistics.median(a / b for a, b in rows))
