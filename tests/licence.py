# SPDX-License-Identifier: MIT
"""The licence reaches every file: LICENSE is there and MIT, and every source file (C, headers,
scripts, build files, the man page) names its licence in its first lines.
Usage: licence.py SOURCE_DIR"""
import os
import sys

from checklib import check, done

SOURCE = sys.argv[1]
SKIP_DIRS = {".git", "fuzz_corpus", "results"}
SOURCES = (".c", ".h", ".py", ".sh", ".txt", ".in", ".map", ".1")
NAMED = {"Makefile", "run", ".gitignore", ".clang-format"}

text = open(os.path.join(SOURCE, "LICENSE")).read()
check("LICENSE is the MIT licence", text.startswith("MIT License") and "Permission is hereby granted"
      in text)
missing = []
count = 0
for root, dirs, files in os.walk(SOURCE):
    dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith("build")]
    for name in files:
        if not (name.endswith(SOURCES) or name in NAMED):
            continue
        path = os.path.join(root, name)
        with open(path, errors="replace") as f:
            head = [f.readline() for _ in range(3)]
        count += 1
        if not any("SPDX-License-Identifier: MIT" in line for line in head):
            missing.append(os.path.relpath(path, SOURCE))
check(f"all {count} source files carry an SPDX line", count > 100 and not missing,
      "missing in: " + ", ".join(sorted(missing)))
done()
