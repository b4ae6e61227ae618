# SPDX-License-Identifier: MIT
"""csock ping: its command line (csock's times, options after the host, the host's syntax) and,
where the process may open an ICMP socket, echo requests to loopback. Usage: ping.py CSOCK"""
import socket
import subprocess

from clilib import check, done
from clilib import run as run_csock


def run(args):
    """csock ARGS, which should end within seconds: one that does not is killed, and reads as
    exit status None."""
    try:
        return run_csock(args, timeout=10)
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(e.cmd, None, e.stdout or b"", e.stderr or b"")


def ping_usage(args, says):
    r = run(["ping"] + args)
    lines = r.stderr.decode().splitlines()
    shown = " ".join(a.encode("unicode_escape").decode() for a in args)
    check(f"csock ping {shown}: exit 2, '{says}'", r.returncode == 2 and lines
          and lines[0] == f"csock ping: {says}" and lines[-1].startswith("usage: csock ping")
          and r.stdout == b"", f"{r.returncode} {r.stderr!r}")


ping_usage([""], "the host is empty")
ping_usage(["127.0.0.1:80"], "127.0.0.1:80: ping takes a host, without a port")
ping_usage(["[::1"], "[::1: not a host (a name, 192.0.2.1, ::1 or [::1])")
ping_usage(["unix:/tmp/x"], "unix:/tmp/x: a Unix address cannot be pinged")
ping_usage(["127.0.0.1", "::1"], "give one host; '::1' is one too many")
ping_usage(["-4", "-6", "127.0.0.1"], "-4 and -6 cannot be used together")
ping_usage(["-c", "0", "127.0.0.1"], "-c needs a count of 1 or more")
ping_usage(["-c", "-1", "127.0.0.1"], "-c needs a count of 1 or more")
ping_usage(["-s", "7", "127.0.0.1"], "-s takes a payload of 8 to 65000 bytes")
for bad in ["1ms", "0", "2h", "abc", ""]:
    ping_usage(["-i", bad, "127.0.0.1"],
               f"-i takes a time from 10ms to 1h, such as 200ms or 2s, not '{bad}'")
ping_usage(["-i", "0x10", "127.0.0.1"], "-i takes a time from 10ms to 1h, such as 200ms or 2s, "
           "not '0x10': a time is a decimal number, not hexadecimal")
ping_usage(["-W", "1e1", "127.0.0.1"], "-W takes a time from 1ms to 1h, such as 200ms or 2s, "
           "not '1e1': a time is written without an exponent (1000s, not 1e3)")
ping_usage(["-W", "0", "127.0.0.1"],
           "-W takes a time from 1ms to 1h, such as 200ms or 2s, not '0'")
ping_usage(["127.0.0.1", "-i", "1ms"],
           "-i takes a time from 10ms to 1h, such as 200ms or 2s, not '1ms'")
ping_usage(["--bogus", "127.0.0.1"], "unknown option --bogus")
ping_usage(["-4", "[::1]"], "cannot use -4 with [::1], an IPv6 address")
ping_usage(["127.0.0.1", "-6"], "cannot use -6 with 127.0.0.1, an IPv4 address")
r = run(["ping", "-c", "1", "nosuch.invalid"])
check("ping nosuch.invalid: exit 2, the name and why, with no port",
      r.returncode == 2 and r.stderr == b"csock ping: nosuch.invalid: Name or service not known\n",
      r.stderr)

# Echo requests, where this process may open an ICMP socket (root, or ping_group_range).
r = run(["ping", "-c", "1", "-W", "2s", "127.0.0.1"])
if b"icmp socket" in r.stderr:
    print(f"skipped echo requests: {r.stderr.decode().strip()}")
    done()


def replies(r):
    return [line for line in r.stdout.decode().splitlines() if " bytes from " in line]


r = run(["ping", "-c", "2", "-i", "200ms", "-W", "1s", "127.0.0.1"])
check("ping -c 2 -i 200ms 127.0.0.1: two replies, exit 0",
      r.returncode == 0 and len(replies(r)) == 2 and r.stdout.decode().startswith(
          "PING 127.0.0.1 (127.0.0.1): 56 data bytes\n"), r)
r = run(["ping", "127.0.0.1", "-c", "1", "-s", "100", "-v"])
check("ping 127.0.0.1 -c 1 -s 100 -v: options after the host are taken",
      r.returncode == 0 and len(replies(r)) == 1 and "108 bytes from 127.0.0.1" in replies(r)[0]
      and b"csock ping: using " in r.stderr, r)
r = run(["ping", "-c", "1", "-W", "1ms", "-i", "10ms", "127.0.0.1"])
check("ping -W 1ms -i 10ms: the shortest times are taken (exit 0 or 1: the reply may be late)",
      r.returncode in (0, 1) and b"1 packets transmitted" in r.stdout, r)
try:
    socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))
    has_v6 = True
except OSError:
    has_v6 = False
if has_v6:
    r = run(["ping", "-c", "1", "[::1]"])
    check("ping [::1]: the host is ::1, written without brackets",
          r.returncode == 0 and r.stdout.decode().startswith("PING ::1 (::1): ")
          and "--- ::1 ping statistics ---" in r.stdout.decode() and b"[[" not in r.stderr, r)
else:
    print("skipped ping [::1]: no IPv6 loopback")
done()
