# SPDX-License-Identifier: MIT
"""The Makefile's variables count on every run, not only on the first: PREFIX picks where
`make install` installs whatever the build was configured with, changed CMAKE_FLAGS configure
the build afresh, JOBS is passed on. Runs make against a stand-in cmake that records how it is
called, so nothing is built. Usage: makefile.py SOURCE_DIR"""
import os
import shutil
import stat
import subprocess
import sys
import tempfile

from checklib import check, done

SOURCE = sys.argv[1]
tmp = tempfile.mkdtemp()
LOG = os.path.join(tmp, "calls")
FAKE = """#!/bin/sh
# Records its arguments; configuring (-B DIR) leaves a cache there as cmake would.
echo "$*" >>"%s"
while [ $# -gt 0 ]; do
    if [ "$1" = -B ]; then mkdir -p "$2" && touch "$2/CMakeCache.txt"; fi
    shift
done
""" % LOG
os.makedirs(os.path.join(tmp, "bin"))
fake = os.path.join(tmp, "bin", "cmake")
with open(fake, "w") as f:
    f.write(FAKE)
os.chmod(fake, stat.S_IRWXU)
ENV = dict(os.environ, PATH=os.path.join(tmp, "bin") + os.pathsep + os.environ["PATH"])
# Run from `make test CMAKE_FLAGS=...`, the outer make's variables would reach these makes through
# the environment (MAKEFLAGS) and override what each check sets.
for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "BUILD", "PREFIX", "CMAKE_FLAGS",
             "JOBS"):
    ENV.pop(name, None)


def make(*args):
    """Runs make in the source tree; returns its output and the cmake calls it made."""
    open(LOG, "w").close()
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", SOURCE, *args],
                       capture_output=True, text=True, env=ENV, timeout=60)
    calls = open(LOG).read().splitlines()
    return r.returncode, r.stdout + r.stderr, calls


b = os.path.join(tmp, "b")
p1, p2 = os.path.join(tmp, "p1"), os.path.join(tmp, "p2")
rc, out, calls = make(f"BUILD={b}", f"PREFIX={p1}", "install")
check("first make install: configures, builds, installs to PREFIX",
      rc == 0 and calls == [f"-S . -B {b}", f"--build {b} -j2", f"--install {b} --prefix {p1}"],
      f"{out}{calls}")
rc, out, calls = make(f"BUILD={b}", f"PREFIX={p2}", "install")
check("make install with another PREFIX installs there",
      rc == 0 and calls == [f"--build {b} -j2", f"--install {b} --prefix {p2}"], f"{out}{calls}")
rc, out, calls = make(f"BUILD={b}", "CMAKE_FLAGS=-DCSOCK_X=1 -DCSOCK_Y=2", "JOBS=1")
check("changed CMAKE_FLAGS configure afresh, and say so",
      rc == 0 and calls == [f"--fresh -S . -B {b} -DCSOCK_X=1 -DCSOCK_Y=2", f"--build {b} -j1"] and
      "CMAKE_FLAGS are now '-DCSOCK_X=1 -DCSOCK_Y=2'" in out, f"{out}{calls}")
rc, out, calls = make(f"BUILD={b}", "CMAKE_FLAGS=-DCSOCK_X=1 -DCSOCK_Y=2")
check("the same CMAKE_FLAGS again: no configure", rc == 0 and calls == [f"--build {b} -j2"],
      f"{out}{calls}")
rc, out, calls = make(f"BUILD={b}")
check("CMAKE_FLAGS dropped: configured afresh without them",
      rc == 0 and calls == [f"--fresh -S . -B {b}", f"--build {b} -j2"], f"{out}{calls}")
# A directory configured by hand keeps its settings; flags given to make are added to them.
hand = os.path.join(tmp, "hand")
os.makedirs(hand)
open(os.path.join(hand, "CMakeCache.txt"), "w").close()
rc, out, calls = make(f"BUILD={hand}")
check("a directory configured by hand is left as it is",
      rc == 0 and calls == [f"--build {hand} -j2"], f"{out}{calls}")
rc, out, calls = make(f"BUILD={hand}", "CMAKE_FLAGS=-DCSOCK_X=1")
check("a directory configured by hand gets new CMAKE_FLAGS added",
      rc == 0 and calls == [f"-S . -B {hand} -DCSOCK_X=1", f"--build {hand} -j2"],
      f"{out}{calls}")
shutil.rmtree(tmp)
done()
