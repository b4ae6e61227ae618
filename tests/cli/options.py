# SPDX-License-Identifier: MIT
"""csock's command line: every wrong use exits with 2 and says why, before anything is done;
--help and --version; times with units. Usage: options.py CSOCK"""
from clilib import check, done, refusing_port, run


def usage_error(args, says):
    r = run(args)
    err = r.stderr.decode()
    shown = " ".join(a.encode("unicode_escape").decode() for a in args)
    check(f"csock {shown}: exit 2, '{says}'", r.returncode == 2 and says in err
          and "Try 'csock --help'." in err and r.stdout == b"", f"{r.returncode} {err!r}")


usage_error([], "no command: use connect, listen, serve, forward or ping")
usage_error(["frobnicate", "x:1"], "unknown command 'frobnicate'")
usage_error(["connect"], "connect needs an address, e.g. 127.0.0.1:9000")
usage_error(["connect", "a:1", "b:2"], "connect takes one address; 'b:2' is one too many")
# nc's habits get a suggestion in csock's terms.
usage_error(["listen", "9000"], "9000: a port is needed: host:port, [v6]:port or :port "
            "(did you mean :9000?)")
usage_error(["connect", "localhost", "9000"],
            "connect takes one address; '9000' is one too many (did you mean localhost:9000?)")
usage_error(["-l", "9000"], "unknown option -l: csock listens with the listen command and takes "
            "the port in the address: csock listen :9000")
usage_error(["-p", "9000", "connect", "a:1"], "unknown option -p: csock listens")
usage_error(["serve", "telnet", ":23"], "unknown service 'telnet': use echo, discard or chargen")
usage_error(["serve", "echo"], "serve needs an address")
usage_error(["--bogus", "connect", "a:1"], "unknown option --bogus")
usage_error(["-Y", "connect", "a:1"], "unknown option -Y")
usage_error(["connect", "a:1", "-w"], "-w needs a value")
usage_error(["connect", "a:1", "--wait"], "--wait needs a value")
usage_error(["-vw"], "-w needs a value")
for opt in ("--ca", "--cert", "--key", "--sni"):  # empty, apart or with "=": named all the same
    usage_error(["--tls", opt, "", "connect", "a:1"], "csock: %s needs a value" % opt)
    usage_error(["--tls", opt + "=", "connect", "a:1"], "csock: %s needs a value" % opt)
# A long option given a value it does not take.
usage_error(["--hex=3", "connect", "a:1"], "option --hex takes no value")
usage_error(["--no-shutdown=yes", "connect", "a:1"], "option --no-shutdown takes no value")
usage_error(["--he", "connect", "a:1"], "option --he is ambiguous: --hex or --help")
usage_error(["--bogus=1", "connect", "a:1"], "unknown option --bogus")
# What the user wrote is quoted with its control characters escaped.
usage_error(["frob\x1b[2J\n", "x:1"], "unknown command 'frob\\x1b[2J\\n'")
usage_error(["-w", "2\t", "connect", "a:1"], "-w takes a time such as 500ms, 2s or 1m, not '2\\t'")
usage_error(["-\x07", "connect", "a:1"], "unknown option -\\x07")
r = run(["ping", "-Z", "127.0.0.1"])
check("csock ping -Z: one message, in csock's words, naming the option; exit 2",
      r.returncode == 2 and r.stderr.decode().splitlines()[0] == "csock ping: unknown option -Z"
      and len(r.stderr.decode().splitlines()) == 2, r.stderr)
r = run(["ping", "-c"])
check("csock ping -c without a count: '-c needs a value'",
      r.returncode == 2 and r.stderr.decode().splitlines()[0] == "csock ping: -c needs a value",
      r.stderr)

# Addresses.
usage_error(["connect", "::1:80"], "an IPv6 address needs brackets before a port: [::1]:80")
usage_error(["connect", "localhost"], "a port is needed: host:port, [v6]:port or :port")
usage_error(["connect", "localhost:65536"], "a port is a number from 0 to 65535")
usage_error(["connect", "localhost:8o"], "a port is a number from 0 to 65535")
usage_error(["connect", "[::1:80"], "an IPv6 address in brackets looks like [::1]:80")
usage_error(["connect", "[[]:3"], "an IPv6 address in brackets looks like [::1]:80")
usage_error(["connect", "[127.0.0.1]:3"], "an IPv6 address in brackets looks like [::1]:80")
usage_error(["connect", "a]b:3"], "brackets go around an IPv6 address only: [::1]:80")
usage_error(["connect", "unix:"], "a Unix address needs a path or @name after unix:")
usage_error(["connect", "unix:/" + "x" * 120], "a Unix socket path has at most 107 bytes")
usage_error(["connect", ":80"], "connect needs a host: host:port")
usage_error(["connect", "127.0.0.1:0"], "connect needs a port above 0")
usage_error(["connect", "127.0.0.1:1-5"], "a port is a number from 0 to 65535")
usage_error(["-z", "connect", "127.0.0.1:9-5"], "a port range goes from the lower port to the higher")
# Times.
for bad in ["", "abc", "nan", "inf", "+1", " 1", "."]:
    usage_error(["-w", bad, "connect", "a:1"], f"-w takes a time such as 500ms, 2s or 1m, not '{bad}'")
# A time is decimal, with csock's units: what strtod would take besides is refused, and said why.
for bad, why in [("1e10", "a time is written without an exponent (1000s, not 1e3)"),
                 ("1E3s", "a time is written without an exponent (1000s, not 1e3)"),
                 ("0x10", "a time is a decimal number, not hexadecimal"),
                 ("-1", "a time cannot be negative"),
                 ("1.5.5s", "a time has one decimal point at most"),
                 ("2x", "the unit is us, ms, s, m or h (none is seconds)"),
                 ("1 s", "the unit is us, ms, s, m or h (none is seconds)"),
                 ("3000000000", "a time is at most 2147483647s (68 years)"),
                 ("40000000m", "a time is at most 2147483647s (68 years)")]:
    usage_error(["-q", bad, "connect", "a:1"],
                f"-q takes a time such as 500ms, 2s or 1m, not '{bad}': {why}")
usage_error(["-w", "0", "connect", "a:1"], "-w needs a time above 0")
usage_error(["-i", "0s", "connect", "a:1"], "-i needs a time above 0")
usage_error(["-m", "0", "-k", "listen", ":0"], "-m takes a number of connections from 1 to 1000000")
# Options that do not apply, and conflicts.
usage_error(["-k", "connect", "a:1"], "-k does not apply to connect")
usage_error(["-s", "127.0.0.1", "listen", ":0"], "-s does not apply to listen")
usage_error(["-z", "listen", ":0"], "-z does not apply to listen")
usage_error(["-x", "serve", "echo", ":0"], "-x does not apply to serve")
usage_error(["-w", "1s", "serve", "echo", ":0"], "-w does not apply to serve")
usage_error(["-q", "1", "serve", "echo", ":0"], "-q does not apply to serve")
usage_error(["-4", "-6", "connect", "a:1"], "cannot use -4 and -6 together")
usage_error(["-4", "connect", "unix:/tmp/x"], "-4 and -6 do not apply to a Unix address")
usage_error(["-z", "-u", "connect", "a:1-2"], "cannot use -z with -u")
usage_error(["-z", "connect", "unix:/tmp/x"], "-z scans ports, and a Unix address has none")
usage_error(["-z", "-x", "connect", "a:1-2"], "cannot use -x with -z")
usage_error(["-z", "--exec", "cat", "connect", "a:1-2"], "cannot use --exec with -z")
usage_error(["--exec", "cat", "-x", "connect", "a:1"], "cannot use -x with --exec")
usage_error(["--exec", "cat", "-d", "listen", ":0"], "cannot use -d with --exec")
usage_error(["--exec", "cat", "-i", "1s", "-k", "listen", ":0"], "cannot use -i with --exec")
usage_error(["--exec", "cat", "-u", "-k", "listen", ":0"], "cannot use --exec with -u -k")
usage_error(["--exec", "", "listen", ":0"], "--exec needs a command")
usage_error(["-k", "-q", "1", "listen", ":0"], "cannot use -q with -k")
usage_error(["-k", "--no-shutdown", "listen", ":0"], "cannot use --no-shutdown with -k")
usage_error(["-m", "3", "listen", ":0"], "-m needs -k")
usage_error(["-m", "3", "-u", "serve", "echo", ":0"], "cannot use -m with -u")
usage_error(["-m", "3", "-u", "-k", "listen", ":0"], "cannot use -m with -u")
usage_error(["-w", "1s", "-u", "connect", "a:1"], "cannot use -w with connect -u")
usage_error(["-d", "-q", "1", "connect", "a:1"], "cannot use -q with -d")
usage_error(["-d", "--no-shutdown", "connect", "a:1"], "cannot use --no-shutdown with -d")
usage_error(["-s", "unix:/tmp/x", "connect", "a:1"], "the source must be of the same kind")
usage_error(["-s", "1.2.3.4", "connect", "unix:/tmp/x"], "the source must be of the same kind")
usage_error(["-s", "unix:/tmp/c", "connect", "unix:/tmp/x"], "-s with a Unix address needs -u")
usage_error(["-s", "[::1", "connect", "a:1"], "an IPv6 address in brackets")
# Families that cannot agree, when the addresses are numbers: the command line is wrong (exit 2).
usage_error(["-4", "listen", "[::1]:0"], "cannot use -4 with [::1]:0, an IPv6 address")
usage_error(["-4", "-k", "listen", "[::1]:0"], "cannot use -4 with [::1]:0, an IPv6 address")
usage_error(["-4", "-u", "listen", "[::1]:0"], "cannot use -4 with [::1]:0, an IPv6 address")
usage_error(["-6", "serve", "echo", "127.0.0.1:0"], "cannot use -6 with 127.0.0.1:0, an IPv4 address")
usage_error(["-6", "connect", "127.0.0.1:9"], "cannot use -6 with 127.0.0.1:9, an IPv4 address")
usage_error(["-4", "-s", "::1", "connect", "a:1"], "cannot use -4 with -s ::1, an IPv6 address")
usage_error(["-s", "[::1]", "connect", "127.0.0.1:80"],
            "-s [::1] is an IPv6 address and 127.0.0.1:80 an IPv4 one: the families differ")
usage_error(["-s", "127.0.0.1:5", "-z", "connect", "[::1]:1-2"],
            "-s 127.0.0.1:5 is an IPv4 address and [::1]:1-2 an IPv6 one: the families differ")
# A name is looked up for the source's family only: when it has no address of that family, the
# message says which family was asked for, and why.
import socket
try:
    socket.getaddrinfo("localhost", 80, socket.AF_INET6)
except socket.gaierror:
    for args, why in [(["-s", "[::1]"], ", the family of -s [::1]"), (["-6"], ": -6"),
                      (["-s", "[::1]", "-z"], ", the family of -s [::1]")]:
        r = run(args + ["connect", "localhost:80"])
        says = ("csock: connect localhost:80: Name or service not known (looked up for IPv6 "
                f"addresses only{why})\n")
        check(f"csock {' '.join(args)} connect localhost:80: exit 1, '{says.strip()}'",
              r.returncode == 1 and r.stderr.decode() == says, r.stderr)
else:
    print("skipped the look-up for the source's family: localhost has an IPv6 address here")

r = run(["--help"])
text = r.stdout.decode()
check("--help: usage on standard output, exit 0",
      r.returncode == 0 and text.startswith("usage: csock [options] connect ADDRESS")
      and "--exec CMD" in text and "Exit status: 0 done, 1 failed, 2 usage error, 3 timed out"
      in text, text)
# The man page and --help name the same options.
import os
import re
page = open(os.path.join(os.path.dirname(__file__), "../../tools/csock/csock.1")).read()
page = page.replace("\\-", "-")
# The options csock defines are those of the page's OPTIONS section (DIFFERENCES FROM NC names
# nc's too).
page = page.split("\n.SH OPTIONS\n", 1)[1].split("\n.SH ", 1)[0]
defined = [line for line in page.splitlines() if re.match(r"\.BR? -", line)]
listed = [line.split("  ")[1] for line in text.splitlines() if line.startswith("  -")]
for kind, pattern in [("long", r"--([a-z][a-z-]*[a-z])"), ("short", r"(?<![\w-])-([a-zA-Z0-9])\b")]:
    in_page = {o for line in defined for o in re.findall(pattern, line)}
    in_help = {o for line in listed for o in re.findall(pattern, line)}
    check(f"the man page and --help name the same {kind} options ({len(in_help)})",
          in_page == in_help and in_help, (sorted(in_page - in_help), sorted(in_help - in_page)))
r = run(["-V"])
check("-V: the version", r.returncode == 0 and r.stdout.decode().startswith("csock 0."),
      r.stdout)
# Options may follow the command, and times take every unit.
port, holder = refusing_port()
for t in ["500ms", "2s", "1.5", "1m", "1h", "250us", ".5s", "5.", "007s"]:
    r = run(["connect", f"127.0.0.1:{port}", "-w", t])
    check(f"-w {t} is taken (then the connection is refused: exit 1)", r.returncode == 1
          and b"Connection refused" in r.stderr, r.stderr)
holder.close()
done()
