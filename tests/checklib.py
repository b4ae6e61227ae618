# SPDX-License-Identifier: MIT
"""What the Python-driven tests share: one check(), the closing summary line, a way to run a
server program, and skipping with what to install when a tool is missing."""
import shutil
import signal
import subprocess
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


def needs(tool, package):
    """Skips the test (exit 77) with one line naming the package to install if tool is missing,
    as tests/needs.sh does for the shell scripts."""
    if not shutil.which(tool):
        print(f"SKIP: needs {tool} (apt-get install {package})")
        sys.exit(77)


def done():
    """Prints "N passed, M failed" and exits non-zero on any failure."""
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


class Program:
    """A server program that prints "listening on HOST:PORT" first. Use with "with": it is killed
    if still running at the end. stop() ends it with SIGTERM and returns its exit status."""

    def __init__(self, args, timeout=30):
        self.timeout = timeout
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.first = self.proc.stdout.readline().strip()
        self.port = int(self.first.rsplit(":", 1)[1]) if ":" in self.first else 0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(self.timeout)

    def stderr(self):
        return self.proc.stderr.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        end_process(self.proc)


def end_process(proc):
    """Kills proc if it still runs, reaps it, and closes its pipes."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for f in (proc.stdin, proc.stdout, proc.stderr):
        if f:
            try:
                f.close()
            except BrokenPipeError:  # unwritten input of a process that has ended
                pass
