"""What the Python-driven tests share: one check() and the closing summary line."""
import sys

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")
    sys.stdout.flush()


def done():
    """Prints "N passed, M failed" and exits non-zero on any failure."""
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
