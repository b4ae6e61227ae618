# SPDX-License-Identifier: MIT
"""The docs' code is real: blocks that show a file from examples/ match it exactly, every other
C block compiles (whole programs as they are, fragments inside a function), the README's
server and client run against each other on a free port, and CI installs the README's set-up
line.
Usage: docs.py SOURCE_DIR CC LIBCSOCK_A [CFLAGS...]; where TLS is built, CSOCK_TLS_LIBS in the
environment names the OpenSSL libraries its programs link with."""
import os
import re
import socket
import subprocess
import sys
import tempfile

from checklib import check, done

SOURCE, CC, LIB = sys.argv[1], sys.argv[2], sys.argv[3]
CFLAGS = sys.argv[4:]  # the library's own build flags, such as its sanitizers
TLS_LIBS = os.environ.get("CSOCK_TLS_LIBS", "").split()
DOCS = ["README.md", "docs/tutorial.md", "docs/design.md", "docs/python-to-c.md",
        "docs/datagrams-raw-unix.md", "docs/servers.md", "docs/clients.md", "docs/tls.md"]
if not TLS_LIBS:
    print("docs/tls.md not compiled: TLS is not built")
    DOCS.remove("docs/tls.md")
FRAGMENT = """#include <csock/server.h>
#include <signal.h>
#include <stdio.h>
static int fragment(csock *s, const char *host, int port)
{
    char buf[512];
    (void)s; (void)host; (void)port; (void)buf;
    {
%s
    }
    return 0;
}
int main(void) { return fragment(NULL, "127.0.0.1", 0) * 0; }
"""
tmp = tempfile.mkdtemp()


def build(name, code):
    src = os.path.join(tmp, name + ".c")
    exe = os.path.join(tmp, name)
    with open(src, "w") as f:
        f.write(code)
    r = subprocess.run([CC, "-std=c17", "-Wall", *CFLAGS, "-I", os.path.join(SOURCE, "include"),
                        src, LIB, *TLS_LIBS, "-o", exe], capture_output=True, text=True)
    return exe, r


readme_programs = []
for doc in DOCS:
    text = open(os.path.join(SOURCE, doc)).read()
    for i, block in enumerate(re.findall(r"```c\n(.*?)```", text, re.S)):
        name = f"{doc}#{i + 1}"
        first = block.split("\n", 1)[0]
        m = re.match(r"// (examples/\S+)$", first)
        if m:
            real = open(os.path.join(SOURCE, m.group(1))).read()
            real = re.sub(r"\A/\* SPDX-License-Identifier: [^*]* \*/\n", "", real)
            check(f"{name} is {m.group(1)} as it stands", block.split("\n", 1)[1] == real,
                  "the doc and the file differ")
            continue
        whole = "int main(" in block
        exe, r = build(re.sub(r"\W", "_", name), block if whole else FRAGMENT % block)
        check(f"{name} compiles", r.returncode == 0, r.stderr)
        if whole and doc == "README.md":
            readme_programs.append((exe, block))

# The README's server and client, on a port the kernel picked instead of 8888.
if len(readme_programs) == 2:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    exes = []
    for i, (_, block) in enumerate(readme_programs):
        exe, r = build(f"readme_run_{i}", block.replace("8888", str(port)))
        exes.append(exe)
    server = subprocess.Popen([exes[0]], stderr=subprocess.PIPE, text=True)
    out = err = ""
    for _ in range(200):  # bounded: the server may not be listening yet
        c = subprocess.run([exes[1]], capture_output=True, text=True, timeout=30)
        out, err = c.stdout, c.stderr
        if c.returncode == 0:
            break
        if "Connection refused" not in c.stderr:
            break
        server.poll()
        if server.returncode is not None:
            break
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:  # no client reached it: it still waits in accept
        server.kill()
        server.wait()
    check("README server and client talk", out == "hello\n" and server.returncode == 0,
          f"client said {out!r}, {err!r}")
else:
    check("README has a server and a client", False, f"{len(readme_programs)} programs")

# CI installs what the README's set-up line says (and what only its extra legs need).
setup = re.search(r"^apt-get install ([^\n]+)$", open(os.path.join(SOURCE, "README.md")).read(),
                  re.M)
ci = re.search(r"apt-get install (.*?)>/dev/null", open(os.path.join(SOURCE, ".ci/run")).read(),
               re.S)
readme_packages = setup.group(1).split() if setup else []
ci_packages = [w for w in ci.group(1).split() if not w.startswith("-") and w != "\\"] if ci else []
check("CI installs every package of the README's set-up line",
      readme_packages and set(readme_packages) <= set(ci_packages),
      f"README: {readme_packages}; .ci/run: {ci_packages}")

done()
