#!/usr/bin/env python3
"""Open TCP connections in a loop, bounded in count and time, and report.

usage: conn_loop.py HOST PORT SECONDS MAX_ATTEMPTS STARTED_FILE
Each attempt connects, sends a line, reads the echo or an HTTP answer, and
closes. Writes STARTED_FILE after the first success, then runs until SECONDS
or MAX_ATTEMPTS. Prints one line:
  attempts N ok N failed N longest_gap_ms N first_error TEXT
where longest_gap_ms is the longest time between two successful attempts.
"""
import socket
import sys
import time

host, port, seconds, max_attempts, started = (
    sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
deadline = time.monotonic() + seconds
attempts = ok = failed = 0
last_ok = None
gap = 0.0
first_error = "-"
while time.monotonic() < deadline and attempts < max_attempts:
    attempts += 1
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            if not s.recv(64):
                raise OSError("empty answer")
        now = time.monotonic()
        if last_ok is not None:
            gap = max(gap, now - last_ok)
        elif started:
            open(started, "w").close()
        last_ok = now
        ok += 1
    except OSError as e:
        failed += 1
        if first_error == "-":
            first_error = str(e).replace(" ", "_")
    time.sleep(0.01)
print(f"attempts {attempts} ok {ok} failed {failed} longest_gap_ms {int(gap * 1000)} "
      f"first_error {first_error}", flush=True)
