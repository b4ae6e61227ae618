# SPDX-License-Identifier: MIT
"""What a packager relies on. The licence reaches every file: LICENSE is there and MIT, and every
source file (C, headers, scripts, build files, the man page) names its licence in its first
lines. The version is the header's everywhere: the shared library's run-time csock_version, its
SONAME (MAJOR.MINOR during 0.x), the CMake package's compatibility, `csock -V`, the man page and
CHANGELOG.md.
Usage: release.py SOURCE_DIR BUILD_DIR LIBCSOCK_SO CSOCK_TOOL"""
import ctypes
import os
import re
import subprocess
import sys

from checklib import check, done

SOURCE, BUILD, SHARED, TOOL = sys.argv[1:5]
SKIP_DIRS = {".git", "fuzz_corpus", "results"}
SOURCES = (".c", ".h", ".py", ".sh", ".txt", ".in", ".map", ".1")
NAMED = {"Makefile", "run", ".gitignore", ".clang-format"}

text = open(os.path.join(SOURCE, "LICENSE")).read()
check("LICENSE is the MIT licence", text.startswith("MIT License") and "Permission is hereby granted"
      in text)
missing = []
count = 0
for root, dirs, files in os.walk(SOURCE):
    # Build trees (wherever they are, whatever their name) and Debian's staging directories
    # (debian/tmp, debian/PACKAGE) hold generated files, not sources.
    if "CMakeCache.txt" in files:
        dirs[:] = []
        continue
    staging = os.path.basename(root) == "debian" and "control" in files
    dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith("build")
               and not (staging and d not in ("source", "tests"))]
    for name in files:
        if not (name.endswith(SOURCES) or name in NAMED) or ".so." in name:
            continue
        path = os.path.join(root, name)
        with open(path, errors="replace") as f:
            head = [f.readline() for _ in range(3)]
        count += 1
        if not any("SPDX-License-Identifier: MIT" in line for line in head):
            missing.append(os.path.relpath(path, SOURCE))
check(f"all {count} source files carry an SPDX line", count > 100 and not missing,
      "missing in: " + ", ".join(sorted(missing)))

header = open(os.path.join(SOURCE, "include", "csock.h")).read()
parts = [int(re.search(rf"^#define CSOCK_VERSION_{p} (\d+)$", header, re.M).group(1))
         for p in ("MAJOR", "MINOR", "PATCH")]
version = "%d.%d.%d" % tuple(parts)
if os.environ.get("CSOCK_SANITIZED"):
    print("note: a sanitized libcsock.so cannot be loaded into Python; `csock -V` below still "
          "reads csock_version()")
else:
    lib = ctypes.CDLL(SHARED)
    lib.csock_version.restype = ctypes.c_char_p
    lib.csock_version_number.restype = ctypes.c_uint
    check("csock_version() is the header's", lib.csock_version().decode() == version,
          lib.csock_version())
    check("csock_version_number() is MAJOR*10000 + MINOR*100 + PATCH",
          lib.csock_version_number() == parts[0] * 10000 + parts[1] * 100 + parts[2],
          lib.csock_version_number())
dynamic = subprocess.run(["readelf", "-d", SHARED], capture_output=True, text=True).stdout
soname = re.search(r"\(SONAME\).*\[(.*)\]", dynamic)
want = "libcsock.so.%d.%d" % (parts[0], parts[1]) if parts[0] == 0 else "libcsock.so.%d" % parts[0]
check(f"the SONAME is {want}", soname and soname.group(1) == want, dynamic)
package = open(os.path.join(BUILD, "csockConfigVersion.cmake")).read()
rule = "SameMinorVersion" if parts[0] == 0 else "SameMajorVersion"
check(f"the CMake package is {rule}", f"COMPATIBILITY {rule}" in package or
      (rule == "SameMinorVersion" and "CVF_VERSION_MINOR" in package), package[:300])
out = subprocess.run([TOOL, "-V"], capture_output=True, text=True).stdout
check("csock -V says the version", out == f"csock {version}\n", out)
man = open(os.path.join(SOURCE, "tools", "csock", "csock.1")).read()
check("the man page names the version", f'"csock {version}"' in man.split("\n.SH", 1)[0])
changes = open(os.path.join(SOURCE, "CHANGELOG.md")).read()
check("CHANGELOG.md has the version", re.search(rf"^## {re.escape(version)}\b", changes, re.M))
done()
