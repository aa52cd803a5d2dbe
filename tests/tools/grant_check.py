"""What fast_check.py and batch_check.py share: their arguments, the report
of their checks, the broker's count of requests its wait answered, and the
redefinition of endpoint fa across a reload of the broker's state.

Both run as  SCRIPT SOCKET STATE UID  (see each one's docstring).
"""
import os
import select
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "security"))
import wire  # noqa: E402

path, state, uid = sys.argv[1], sys.argv[2], int(sys.argv[3])
failed = 0


def check(ok, what):
    """Print one check's line; count it when it failed."""
    global failed
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    failed += 0 if ok else 1


def finish():
    sys.exit(1 if failed else 0)


def stats():
    return wire.ask_json(path, wire.OP_STATUS, {})["stats"]


def answered_in_wait():
    return stats().get("fast", 0)


def across_reload(one, tries, want):
    """Redefine fa (127.0.0.1 -> 127.0.0.3) in the state file and print
    "reload"; call one() (True when its answer was stale) until it has run
    `want` times after the caller said on stdin that the broker reloaded, at
    most `tries` times in all. Returns (done, before, after, stale, served):
    whether the reload came, the calls before and after it, the stale ones
    after it, and how many requests the wait answered after it."""
    with open(state) as f:
        text = f.read()
    with open(state, "w") as f:
        f.write(text.replace('"127.0.0.1"', '"127.0.0.3"'))
    print("reload", flush=True)
    before = after = stale = 0
    done = False
    for _ in range(tries):
        if not done and select.select([sys.stdin], [], [], 0)[0]:
            sys.stdin.readline()
            done = True
            n0 = answered_in_wait()
        stale_now = one()
        if not done:
            before += 1
            continue
        after += 1
        stale += stale_now
        if after == want:
            break
    return done, before, after, stale, answered_in_wait() - n0 if done else 0
