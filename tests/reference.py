# SPDX-License-Identifier: MIT
"""The reference pages, made from the headers by tools/mkref.py, against the library and the
headers themselves: every function the shared library exports has a page, every public function
in the headers has a doc comment, every page's SYNOPSIS is its header's text (a function's
declaration, or a documented structure's definition), man renders every page without a
warning, and an install puts them where `man 3 csock_socket` finds them.
Usage: reference.py SOURCE_DIR BUILD_DIR LIBCSOCK_SO CMAKE MANDIR DOCDIR [--leave-out HEADER]...
(the headers of parts the build leaves out, as tools/mkref.py takes them)"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import checklib
from checklib import check, done, needs

SOURCE, BUILD, SHARED, CMAKE, MANDIR, DOCDIR = sys.argv[1:7]
LEAVE_OUT = sys.argv[7:]
MKREF = os.path.join(SOURCE, "tools", "mkref.py")
INCLUDE = os.path.join(SOURCE, "include")
MAN3 = os.path.join(BUILD, "reference", "man", "man3")
HTML = os.path.join(BUILD, "reference", "reference.html")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def unescape(line):
    """A line of the page's SYNOPSIS as C: troff's escapes undone."""
    line = line[2:] if line.startswith("\\&") else line
    return line.replace("\\(aq", "'").replace("\\(ga", "`").replace("\\-", "-").replace("\\e", "\\")


# The check that finds a function without its comment finds one.
with tempfile.TemporaryDirectory() as tmp:
    os.makedirs(os.path.join(tmp, "csock"))
    with open(os.path.join(tmp, "csock", "new.h"), "w", encoding="utf-8") as f:
        f.write("/* Opens it. Returns 0. */\nint csock_documented(void);\n\n"
                "int csock_forgotten(int x);\n")
    got = run([sys.executable, MKREF, tmp, "--check"])
    check("mkref --check names a function without a doc comment",
          got.returncode == 1 and "csock/new.h:4: csock_forgotten has no doc comment" in got.stderr
          and "csock_documented" not in got.stderr, got.stderr)

# Every public function in the headers as they are now has its comment.
got = run([sys.executable, MKREF, INCLUDE, "--check", *LEAVE_OUT])
check("every public function in include/ has a doc comment", got.returncode == 0, got.stderr)
declared = {}  # function -> its header
for line in got.stdout.splitlines():
    header, names = line.split(": ", 1)
    for name in names.split():
        declared[name] = header

# The shared library's functions, each with a page, each declared in a header.
nm = run(["nm", "-D", "--defined-only", SHARED])
exported = sorted(fields[2] for fields in (line.split() for line in nm.stdout.splitlines())
                  if len(fields) == 3 and fields[1] in "TWi" and fields[2].startswith("csock_"))
check(f"libcsock.so exports {len(exported)} csock_* functions", nm.returncode == 0 and
      len(exported) > 100, nm.stderr)
pages = sorted(name[:-2] for name in os.listdir(MAN3) if name.endswith(".3"))
check(f"every exported function has a page ({len(pages)} pages)",
      not set(exported) - set(pages), "no page for " + ", ".join(sorted(set(exported) -
                                                                      set(pages))))
check("every exported function is declared in a public header", not set(exported) - set(declared),
      ", ".join(sorted(set(exported) - set(declared))))
check("every function declared in a header is exported", not set(declared) - set(exported),
      ", ".join(sorted(set(declared) - set(exported))))

# Each page's SYNOPSIS is its header's text; each link leads to a page that names it.
header = read(os.path.join(INCLUDE, "csock.h"))
version = ".".join(re.search(rf"^#define CSOCK_VERSION_{p} (\d+)$", header, re.M).group(1)
                   for p in ("MAJOR", "MINOR", "PATCH"))
wrong, links, real = [], [], []
for name in pages:
    text = read(os.path.join(MAN3, name + ".3"))
    if text.startswith(".so "):
        target = os.path.join(MAN3, "..", text.split()[1])  # .so man3/NAME.3
        target_text = read(target) if os.path.exists(target) else ""
        name_line = target_text.split(".SH NAME\n", 1)[-1].split("\n", 1)[0]
        if not re.search(rf"\b{name}\b", name_line):
            links.append(f"{name} -> {text.split()[1]}")
        continue
    real.append(name)
    synopsis = text.split(".SH SYNOPSIS\n", 1)[-1].split(".SH ", 1)[0]
    if name == "csock":  # the overview, csock(3): every header
        includes = set(re.findall(r"^\.B #include <(.*)>$", synopsis, re.M))
        if not includes >= {h[len("include/"):] for h in declared.values()}:
            wrong.append(f"csock (includes {sorted(includes)})")
        continue
    include = re.search(r"^\.B #include <(.*)>$", synopsis, re.M)
    decl = "\n".join(unescape(line) for line in synopsis.splitlines() if not line.startswith("."))
    source = os.path.join(INCLUDE, include.group(1)) if include else ""
    if not (include and os.path.exists(source) and decl and decl in read(source)
            and re.search(rf"\b{name}\b", decl)):
        wrong.append(name)
    if f'"csock {version}"' not in text.split("\n.SH", 1)[0]:
        wrong.append(name + " (version)")
check(f"every page's SYNOPSIS is in its header verbatim ({len(real)} pages)", real and not wrong,
      ", ".join(wrong))
check(f"every link names a page that documents it ({len(pages) - len(real)} links)", not links,
      ", ".join(links))

html = read(HTML)
check("reference.html has every exported function", all(f'id="{n}"' in html for n in exported),
      ", ".join(n for n in exported if f'id="{n}"' not in html))

# An install puts the pages and the docs where they belong; man finds them there.
if os.path.isabs(MANDIR) or os.path.isabs(DOCDIR):
    print(f"note: MANDIR {MANDIR} or DOCDIR {DOCDIR} is absolute: no staged install checked")
    done()
with tempfile.TemporaryDirectory() as prefix:
    got = run([CMAKE, "--install", BUILD, "--prefix", prefix])
    check("cmake --install to a temporary prefix", got.returncode == 0, got.stderr)
    manpath = os.path.join(prefix, MANDIR)
    installed = set(os.listdir(os.path.join(manpath, "man3")))
    check(f"every page is installed in {MANDIR}/man3", installed >= {p + ".3" for p in pages},
          ", ".join(sorted({p + ".3" for p in pages} - installed)))
    docs = os.path.join(prefix, DOCDIR)
    wanted = ["LICENSE", "README.md", "CHANGELOG.md", "reference.html", "docs/design.md"]
    check(f"{DOCDIR} has " + ", ".join(wanted), all(os.path.exists(os.path.join(docs, w))
                                                    for w in wanted),
          ", ".join(w for w in wanted if not os.path.exists(os.path.join(docs, w))))

    # groff renders every page without a warning, at man's width of 80 (a link from the top of
    # the man tree, as man reads it); man itself renders one of each kind and finds the
    # installed ones. Checks that failed so far are never hidden by a skip.
    if not (shutil.which("man") and shutil.which("groff")) and checklib.failed:
        done()
    needs("groff", "groff-base")
    needs("man", "man-db")
    noisy = []
    for name in pages:
        got = run(["groff", "-s", "-man", "-Tutf8", "-ww", "-z", "-rLL=80n", "-rLT=80n",
                   os.path.join("man3", name + ".3")], cwd=os.path.dirname(MAN3))
        if got.returncode != 0 or got.stderr:
            noisy.append(f"{name}: {got.stderr.strip()}")
    check(f"groff renders all {len(pages)} pages without a warning", not noisy,
          "; ".join(noisy[:5]))
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    for name in ("csock_socket", "csock_type"):
        got = run(["man", "--warnings=w", "-l", os.path.join("man3", name + ".3")], env=env,
                  cwd=os.path.dirname(MAN3))
        check(f"man --warnings -l renders {name}.3 without a warning",
              got.returncode == 0 and not got.stderr and "SYNOPSIS" in got.stdout, got.stderr)
    env = dict(env, MANPATH=manpath)
    where = run(["man", "-w", "3", "csock_socket"], env=env)
    check("man -w 3 csock_socket finds the installed page",
          where.stdout.strip() == os.path.join(manpath, "man3", "csock_socket.3"),
          where.stdout + where.stderr)
    shown = run(["man", "3", "csock_type"], env=env)
    check("man 3 csock_type follows its link to csock_family's page",
          shown.returncode == 0 and "csock_family, csock_type, csock_protocol" in shown.stdout,
          shown.stdout[:300] + shown.stderr)
done()
