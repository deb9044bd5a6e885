#!/usr/bin/env python3
"""Start-up time for bench/run: starts a server binary RUNS times and measures from exec to the
first 200 from GET /readyz, polling every millisecond. The environment (BIND_ADDR and all the
app's settings) is inherited; the working directory is CWD so no .env is read.

usage: startup.py RUNS PORT CWD LOG BINARY [ARGS...]
prints: one JSON object: {"runs_ms": [...], "median_ms": ..., "min_ms": ..., "max_ms": ...}
"""
import json
import signal
import socket
import statistics
import subprocess
import sys
import time


def ready(port):
    """True when GET /readyz answers 200; False when refused or not 200 yet."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            head = s.recv(64)
            return head.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def main():
    runs, port, cwd, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    command = sys.argv[5:]
    times = []
    with open(log, "ab") as out:
        for _ in range(runs):
            t0 = time.perf_counter()
            proc = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=out)
            try:
                while True:
                    if ready(port):
                        times.append((time.perf_counter() - t0) * 1000)
                        break
                    if proc.poll() is not None:
                        sys.exit(f"the server exited with {proc.returncode} during start-up (log: {log})")
                    if time.perf_counter() - t0 > 30:
                        sys.exit(f"the server was not ready within 30 s (log: {log})")
                    time.sleep(0.001)
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    print(json.dumps({
        "runs_ms": [round(t, 1) for t in times],
        "median_ms": round(statistics.median(times), 1),
        "min_ms": round(min(times), 1),
        "max_ms": round(max(times), 1),
    }))


if __name__ == "__main__":
    main()
