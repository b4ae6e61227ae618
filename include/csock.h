/* SPDX-License-Identifier: MIT */
/* csock: Python's socket module, in C.
 *
 * One call per step: csock_socket, csock_bind, csock_listen, csock_accept, csock_send/csock_recv,
 * csock_close. Addresses are given as host and port. Every call that fails returns a negative
 * CSOCK_E* code (system errors are -errno) and leaves a per-thread message naming the operation
 * and the address, read with csock_lasterror().
 *
 * Conventions used by every function below:
 * - Functions returning int or ssize_t return 0 (or a count) on success and a negative CSOCK_E*
 *   code on failure. Functions returning a pointer return NULL on failure; csock_lastcode() then
 *   gives the code.
 * - Timeouts are seconds as a double, with Python's meaning: CSOCK_NO_TIMEOUT (block forever,
 *   Python's None), 0 (non-blocking), or a positive limit after which the call fails with
 *   CSOCK_ETIMEOUT. A number of seconds (a timeout here or in the loop, a timer's delay, the
 *   server's timeout) is at most 2^31 s; NaN, infinities, larger values and negative ones other
 *   than CSOCK_NO_TIMEOUT are CSOCK_EINVAL, never "forever". See docs/design.md.
 * - A csock is owned by the caller: csock_close releases the descriptor (later calls fail with
 *   CSOCK_EBADF, "socket is closed"), csock_free releases the object (closing it first if needed).
 */
#ifndef CSOCK_H
#define CSOCK_H

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Version (src/version.c)
 * ------------------------------------------------------------------------------------------- */

/* The version of the headers being compiled against; the build (CMakeLists.txt) reads it from
 * here, so these lines are the one place it is written. During 0.x any minor release may change
 * the ABI: the shared library's SONAME is libcsock.so.MAJOR.MINOR (libcsock.so.0.1), and the CMake
 * package accepts only the same MAJOR.MINOR. From 1.0 on, the SONAME is libcsock.so.MAJOR and
 * changes whenever the ABI does. See CHANGELOG.md. */
#define CSOCK_VERSION_MAJOR 0
#define CSOCK_VERSION_MINOR 1
#define CSOCK_VERSION_PATCH 0
/* "MAJOR.MINOR.PATCH", and MAJOR * 10000 + MINOR * 100 + PATCH (0.1.0 is 100), for #if. */
#define CSOCK__STR(x)  #x
#define CSOCK__XSTR(x) CSOCK__STR(x)
#define CSOCK_VERSION_STRING                                                                       \
    CSOCK__XSTR(CSOCK_VERSION_MAJOR)                                                               \
    "." CSOCK__XSTR(CSOCK_VERSION_MINOR) "." CSOCK__XSTR(CSOCK_VERSION_PATCH)
#define CSOCK_VERSION_NUMBER                                                                       \
    (CSOCK_VERSION_MAJOR * 10000 + CSOCK_VERSION_MINOR * 100 + CSOCK_VERSION_PATCH)

/* The version of the library actually loaded, which may differ from the headers' when a program
 * runs against another shared libcsock: csock_version returns its "MAJOR.MINOR.PATCH" (a static
 * string, never NULL), csock_version_number its CSOCK_VERSION_NUMBER. Never fail. */
const char *csock_version(void);
unsigned csock_version_number(void);

/* ---------------------------------------------------------------------------------------------
 * Errors
 * Implemented in src/error.c.
 * ------------------------------------------------------------------------------------------- */

/* The three ranges codes come from, so that no two kinds collide. System errors are -errno, from
 * -1 down to CSOCK_ERRNO_LAST (Linux's errno values stay far above it); resolver errors run down
 * from CSOCK_RESOLVER_FIRST; csock's own errors run down from CSOCK_OWN_FIRST. So a code is a
 * system error exactly when CSOCK_ERRNO_LAST <= code < 0. */
#define CSOCK_ERRNO_LAST     (-2999)
#define CSOCK_RESOLVER_FIRST (-3000)
#define CSOCK_OWN_FIRST      (-4000)

/* System errors csock names. Any other errno still comes back as -errno. */
// clang-format off
#define CSOCK_ERRNO_MAP(X) \
    X(EPERM)               \
    X(ENOENT)              \
    X(EINTR)               \
    X(EIO)                 \
    X(EBADF)               \
    X(EAGAIN)              \
    X(ENOMEM)              \
    X(EACCES)              \
    X(EFAULT)              \
    X(EBUSY)               \
    X(EEXIST)              \
    X(ENOTDIR)             \
    X(EISDIR)              \
    X(ENODEV)              \
    X(EINVAL)              \
    X(ENFILE)              \
    X(EMFILE)              \
    X(ENOSPC)              \
    X(ESPIPE)              \
    X(ENODATA)             \
    X(EPIPE)               \
    X(ERANGE)              \
    X(ENAMETOOLONG)        \
    X(ENOSYS)              \
    X(ELOOP)               \
    X(ENOTSOCK)            \
    X(EDESTADDRREQ)        \
    X(EMSGSIZE)            \
    X(EPROTOTYPE)          \
    X(ENOPROTOOPT)         \
    X(EPROTONOSUPPORT)     \
    X(ESOCKTNOSUPPORT)     \
    X(EOPNOTSUPP)          \
    X(EPFNOSUPPORT)        \
    X(EAFNOSUPPORT)        \
    X(EADDRINUSE)          \
    X(EADDRNOTAVAIL)       \
    X(ENETDOWN)            \
    X(ENETUNREACH)         \
    X(ENETRESET)           \
    X(ECONNABORTED)        \
    X(ECONNRESET)          \
    X(ENOBUFS)             \
    X(EISCONN)             \
    X(ENOTCONN)            \
    X(ESHUTDOWN)           \
    X(ETIMEDOUT)           \
    X(ECONNREFUSED)        \
    X(EHOSTDOWN)           \
    X(EHOSTUNREACH)        \
    X(EALREADY)            \
    X(EINPROGRESS)

/* Resolver (getaddrinfo/getnameinfo) errors, in their own range (-3000 down to -3010). */
#define CSOCK_RESOLVER_MAP(X)                   \
    X(EAI_ADDRFAMILY, CSOCK_RESOLVER_FIRST - 0) \
    X(EAI_AGAIN, CSOCK_RESOLVER_FIRST - 1)      \
    X(EAI_BADFLAGS, CSOCK_RESOLVER_FIRST - 2)   \
    X(EAI_FAIL, CSOCK_RESOLVER_FIRST - 3)       \
    X(EAI_FAMILY, CSOCK_RESOLVER_FIRST - 4)     \
    X(EAI_MEMORY, CSOCK_RESOLVER_FIRST - 5)     \
    X(EAI_NODATA, CSOCK_RESOLVER_FIRST - 6)     \
    X(EAI_NONAME, CSOCK_RESOLVER_FIRST - 7)     \
    X(EAI_SERVICE, CSOCK_RESOLVER_FIRST - 8)    \
    X(EAI_SOCKTYPE, CSOCK_RESOLVER_FIRST - 9)   \
    X(EAI_OVERFLOW, CSOCK_RESOLVER_FIRST - 10)
// clang-format on

#define CSOCK_ERRNO_ENUM_(name)           CSOCK_##name = -name,
#define CSOCK_RESOLVER_ENUM_(name, value) CSOCK_##name = value,

/* Every error csock returns. System errors equal -errno (CSOCK_ECONNREFUSED == -ECONNREFUSED). */
enum csock_error {
    CSOCK_ERRNO_MAP(CSOCK_ERRNO_ENUM_) CSOCK_RESOLVER_MAP(CSOCK_RESOLVER_ENUM_)
    /* A timeout set with csock_settimeout expired ("timed out"). Distinct from CSOCK_ETIMEDOUT,
     * which is the kernel giving up on a TCP connection. */
    CSOCK_ETIMEOUT = CSOCK_OWN_FIRST,
    /* TLS (include/csock/tls.h): the protocol failed, with OpenSSL's reason in the message
     * ("tls handshake 127.0.0.1:443: wrong version number"). */
    CSOCK_ETLS = CSOCK_OWN_FIRST - 1,
    /* TLS: the peer's certificate (or its absence) was refused ("verify localhost:443:
     * certificate has expired"). */
    CSOCK_ETLSVERIFY = CSOCK_OWN_FIRST - 2,
    /* TLS: the connection ended without the peer's close_notify, so what came may be cut
     * short. */
    CSOCK_ETLSEOF = CSOCK_OWN_FIRST - 3
};

#undef CSOCK_ERRNO_ENUM_
#undef CSOCK_RESOLVER_ENUM_

/* Returns the text for an error code ("Connection refused", "Name or service not known",
 * "timed out"). Never NULL; a code nothing names gives "Unknown error N" with the code as given
 * ("Unknown error -3999"), in the system's range too. */
const char *csock_strerror(int code);

/* Returns the symbolic name of an error code ("ECONNREFUSED", "EAI_NONAME", "ETIMEOUT"), or
 * "EUNKNOWN" for a code csock does not know. Never NULL. */
const char *csock_errname(int code);

/* Returns this thread's message for the last failed csock call, naming the operation and the
 * address: "bind 127.0.0.1:80: Permission denied". Successful calls leave it unchanged (as with
 * errno), so read it right after a call returned an error. Valid until this thread's next csock
 * call. Never NULL; "" before any failure. */
const char *csock_lasterror(void);

/* Returns this thread's code for the last failed csock call (0 before any failure). This is how
 * callers learn why a function returning a pointer returned NULL. */
int csock_lastcode(void);

/* ---------------------------------------------------------------------------------------------
 * Addresses: a value type the caller may keep on the stack or copy freely.
 * Implemented in src/addr.c (text and values) and src/resolve.c (name look-ups).
 * ------------------------------------------------------------------------------------------- */

/* An address of any family, in the form the kernel takes. len 0 means "no address". A len the
 * structure cannot hold (over sizeof ss, under a family, short of sockaddr_in or sockaddr_in6,
 * over sockaddr_un for AF_UNIX) is refused with CSOCK_EINVAL by every call that takes the
 * address, before it reads a byte past it: "bind: address length 200 is over the 128 bytes of a
 * csock_addr". */
typedef struct csock_addr {
    struct sockaddr_storage ss;
    socklen_t len;
} csock_addr;

/* Buffer size that always holds csock_addr_format's output, including the terminating NUL. */
#define CSOCK_ADDRSTRLEN 440

/* Says whether text is a Unix-domain address, by the one rule every csock call that takes an
 * address's text follows: "unix:" and then a path ("unix:relative.sock", "unix:/run/a.sock") or
 * an abstract name ("unix:@name"); or a text starting with '/' (an absolute path) or '@' (a Linux
 * abstract name: the bytes after '@', exactly as written, a backslash included). Returns the path
 * or "@name" that follows "unix:", or text itself for '/' and '@'; NULL for any other text
 * (NULL too), which is a host or "host:port". A socket that is AF_UNIX already (csock_bind and
 * csock_connect on it, csock_bind_unix, csock_create_server with family AF_UNIX) takes any other
 * text as a path too: "rel.sock" there is a file. "unix:" is removed wherever it appears, so a
 * file named "unix:x" is "./unix:x"; and "unix:80" is a path, never the host "unix" and port 80
 * (give such a host and its port apart, as csock_create_connection("unix", 80, ...) takes). */
const char *csock_unix_path(const char *text);

/* Parses an address without any name lookup: "127.0.0.1:80", "[::1]:80", "[fe80::1%lo]:80",
 * ":80" (0.0.0.0:80), or a Unix address as csock_unix_path says: "/path/to.sock",
 * "unix:relative.sock", "@name" (Linux abstract name). Returns 0, or CSOCK_EINVAL for text that
 * does not parse (as csock_split_host_port; a host name; a bad port; a relative path without
 * "unix:"; "@" or "unix:" with nothing after), or CSOCK_ENAMETOOLONG for a Unix path or abstract
 * name over 107 bytes; the message says which. */
int csock_addr_parse(csock_addr *out, const char *text);

/* Builds a Unix-domain address from len bytes of path: a path (which may not contain a NUL
 * byte: the kernel would stop there and bind a shorter one), or '@' and an abstract name, whose
 * bytes may be anything, NULs included; a "unix:" prefix is removed, as everywhere. Returns 0,
 * or CSOCK_EINVAL (NULL, empty, a NUL in a path, "@" alone) or CSOCK_ENAMETOOLONG (over 107
 * bytes, never cut short). */
int csock_addr_unix(csock_addr *out, const char *path, size_t len);

/* Builds an address from a numeric host and a port, without any name lookup. host NULL or ""
 * is the IPv4 wildcard 0.0.0.0; a Unix address (csock_unix_path) is a path or abstract name, and
 * port must then be 0. Returns 0, CSOCK_EINVAL (host not numeric, port outside 0-65535) or
 * CSOCK_ENAMETOOLONG. */
int csock_addr_make(csock_addr *out, const char *host, int port);

/* Like csock_addr_make, but also resolves host names (first result of getaddrinfo for family,
 * which may be 0 for any; a Unix address is looked up nowhere, and with family AF_INET or
 * AF_INET6 is CSOCK_EAFNOSUPPORT). Returns 0, or a CSOCK_EAI_* resolver error, or as
 * csock_addr_make. */
int csock_addr_resolve(csock_addr *out, const char *host, int port, int family);

/* Writes the address as text: "127.0.0.1:80", "[::1]:80", "/tmp/x.sock", "@name" (bytes that
 * are not printable as \xHH), "" for an unnamed Unix socket. Returns the length written, or
 * CSOCK_ENOSPC if buf (size bytes) is too small (buf then holds ""), CSOCK_EINVAL for a NULL
 * argument, an address of an unknown family or a len its family cannot have ("format address:
 * address length 8 is too short for AF_INET (16 bytes)"). A CSOCK_ADDRSTRLEN buffer is always
 * enough. */
int csock_addr_format(const csock_addr *addr, char *buf, size_t size);

/* Writes only the host part ("127.0.0.1", "::1", the Unix path). Returns as csock_addr_format. */
int csock_addr_host(const csock_addr *addr, char *buf, size_t size);

/* Returns the address family (AF_INET, AF_INET6, AF_UNIX), or 0 for an empty address or one
 * whose len its family cannot have. */
int csock_addr_family(const csock_addr *addr);

/* Returns the port (0-65535) of an IPv4 or IPv6 address, or CSOCK_EAFNOSUPPORT for others, or
 * CSOCK_EINVAL for a len its family cannot have. */
int csock_addr_port(const csock_addr *addr);

/* csock_split_host_port's flag: text without a port ("localhost", "[::1]", "::1") is a host. */
#define CSOCK_SPLIT_PORT_OPTIONAL 1

/* Splits "host:port" text into its host (hostsize bytes) and its port text (portsize bytes), as
 * Go's net.SplitHostPort does: "127.0.0.1:80" gives "127.0.0.1" and "80", "[::1]:80" gives "::1"
 * and "80", ":80" gives "" and "80", "localhost:http" gives "localhost" and "http" (the port is
 * text: csock_parse_port reads a number, and csock_getaddrinfo takes only numbers). Brackets go
 * around an IPv6 address only, and an IPv6 address needs them before a port ("::1:80" is
 * refused: it could be either). With CSOCK_SPLIT_PORT_OPTIONAL, text without a port is a host
 * alone ("localhost", "[::1]", and "::1" or "fe80::1%lo" without brackets), and port gets "".
 * A Unix address is no host:port (see csock_unix_path). Returns 1 when the text has a port
 * (possibly empty: "host:"), 0 when it has none (only with CSOCK_SPLIT_PORT_OPTIONAL), or
 * CSOCK_EINVAL ("[::1", "[[]:3", "[127.0.0.1]:80", "a]:80", "::1:80", "localhost" without the
 * flag, unknown flags, NULL arguments) or CSOCK_ENOSPC (a part does not fit);
 * the message names the text and the reason. */
int csock_split_host_port(const char *text, char *host, size_t hostsize, char *port,
                          size_t portsize, int flags);

/* Writes host and port as "host:port" into buf (size bytes), with brackets around a host that
 * has a colon (IPv6: "[::1]:80"), as Go's net.JoinHostPort; csock_split_host_port gives back the
 * same host and port. host NULL is "". Returns the length written, or CSOCK_EINVAL (port
 * outside 0-65535, NULL buf) or CSOCK_ENOSPC (buf too small; buf then holds ""). */
int csock_join_host_port(const char *host, int port, char *buf, size_t size);

/* Parses a decimal port number "0" to "65535". Returns the port, or CSOCK_EINVAL with a message
 * naming the text for anything else (signs, spaces, junk, out of range). */
int csock_parse_port(const char *text);

/* One result of csock_getaddrinfo. */
typedef struct csock_addrinfo {
    int family, type, protocol;
    csock_addr addr;
} csock_addrinfo;

/* The results of csock_getaddrinfo, in one allocation freed by csock_freeaddrinfo. */
typedef struct csock_addrlist {
    size_t count;
    const char *canonname; /* AI_CANONNAME's answer, or NULL */
    csock_addrinfo items[];
} csock_addrlist;

/* Resolves host and port like Python's socket.getaddrinfo. host NULL with AI_PASSIVE gives the
 * wildcard address; family, type, protocol and flags (AI_*) filter as in getaddrinfo and may be 0.
 * A Unix address (csock_unix_path, or any host with family AF_UNIX) is looked up nowhere: the
 * list holds that one address, of type SOCK_STREAM if type is 0, and port must be 0. Returns the
 * list (free it with csock_freeaddrinfo), or NULL with csock_lastcode() a CSOCK_EAI_* code,
 * CSOCK_EINVAL for a bad port or Unix address, CSOCK_ENAMETOOLONG, CSOCK_EAFNOSUPPORT (a Unix
 * address with family AF_INET or AF_INET6), or CSOCK_ENOMEM. */
csock_addrlist *csock_getaddrinfo(const char *host, int port, int family, int type, int protocol,
                                  int flags);

/* Frees a list from csock_getaddrinfo. NULL is allowed. */
void csock_freeaddrinfo(csock_addrlist *list);

/* Looks up the host and service names of an address, like Python's socket.getnameinfo (flags are
 * NI_*). Either buffer may be NULL. Returns 0, a CSOCK_EAI_* code, or CSOCK_EINVAL. */
int csock_getnameinfo(const csock_addr *addr, int flags, char *host, size_t hostlen, char *serv,
                      size_t servlen);

/* ---------------------------------------------------------------------------------------------
 * The socket object
 * Implemented in src/socket.c (the object, close, shutdown and the names), src/accept.c (bind,
 * listen, accept) and src/connect.c (connect, connect_addr, connect_ex).
 * ------------------------------------------------------------------------------------------- */

typedef struct csock csock;

/* Timeout values with Python's meaning (see docs/design.md). */
#define CSOCK_NO_TIMEOUT      (-1.0) /* block forever: Python's None */
#define CSOCK_DEFAULT_TIMEOUT (-2.0) /* csock_create_connection: use csock_getdefaulttimeout() */

/* Step 1: creates a socket (family AF_INET, AF_INET6 or AF_UNIX; type SOCK_STREAM, SOCK_DGRAM,
 * SOCK_SEQPACKET or SOCK_RAW; protocol usually 0). It is close-on-exec and has the process's
 * default timeout. Returns the socket, or NULL with csock_lastcode() CSOCK_EAFNOSUPPORT,
 * CSOCK_EPROTONOSUPPORT, CSOCK_EPERM (raw sockets without privilege), CSOCK_EMFILE, ... */
csock *csock_socket(int family, int type, int protocol);

/* Wraps an open socket descriptor, taking ownership of it (Python's socket(fileno=fd)). Family,
 * type and protocol are read from the kernel, and the timeout is the one the descriptor already
 * has: 0 if it is non-blocking, its SO_RCVTIMEO (or SO_SNDTIMEO) if it is blocking with one
 * (both are then set to it), else the default timeout. Returns the socket, or NULL with
 * CSOCK_EBADF, CSOCK_ENOTSOCK or CSOCK_ENOMEM; on failure fd is left open and stays the
 * caller's. */
csock *csock_wrap(int fd);

/* Like csock_wrap on a close-on-exec duplicate of fd; fd stays the caller's (Python's
 * socket.fromfd). The duplicate shares fd's open file description, so it has fd's timeout: a
 * fromfd of a csock socket's descriptor reports and enforces that socket's timeout. Returns the
 * socket, or NULL with CSOCK_EBADF, CSOCK_ENOTSOCK or CSOCK_EMFILE. */
csock *csock_fromfd(int fd);

/* Returns a new socket on a close-on-exec duplicate of s's descriptor, with s's timeout
 * (Python's s.dup()). The two share one open file description, and with it the kernel's timeout
 * state (O_NONBLOCK, SO_RCVTIMEO, SO_SNDTIMEO): csock_settimeout on either changes the mode of
 * both, though only the one it was called on knows, so give them their timeout before
 * duplicating, or set it on both alike. Closing one leaves the other open. Returns NULL with
 * CSOCK_EINVAL (NULL), CSOCK_EBADF (closed) or CSOCK_EMFILE. */
csock *csock_dup(csock *s);

/* Creates a pair of connected sockets (family usually AF_UNIX, type SOCK_STREAM or SOCK_DGRAM),
 * stored in pair[0] and pair[1]. Returns 0, or a negative code with pair[] set to NULL. */
int csock_socketpair(int family, int type, int protocol, csock *pair[2]);

/* Returns the descriptor, or -1 if the socket is closed or detached (or s is NULL). */
int csock_fileno(const csock *s);

/* Returns the family, type or protocol the socket was created with (0 for NULL). */
int csock_family(const csock *s);
int csock_type(const csock *s);
int csock_protocol(const csock *s);

/* Puts the socket in the closed state without closing the descriptor and returns the descriptor,
 * which the caller now owns. Kernel timeouts csock set are cleared; the blocking mode stays.
 * Returns the fd, or CSOCK_EBADF if already closed, CSOCK_EINVAL for NULL. */
int csock_detach(csock *s);

/* Step 6: closes the descriptor, at once and with nothing else, as close(2) and Python do. The
 * object stays valid and every later call on it fails with CSOCK_EBADF ("socket is closed");
 * closing again does nothing and returns 0. Returns 0, or the error close(2) reported (the
 * descriptor is released all the same). A TLS socket (csock/tls.h) first sends close_notify,
 * waiting for room to send it within its timeout and 5 s at most.
 *
 * Beware: closing a TCP socket with input unread (or arriving afterwards) makes the kernel reset
 * the connection, and the peer then loses what it has not read yet, however much csock_sendall
 * had sent. A server that answers before reading all of a request, and closes, should use
 * csock_close_gracefully. csock_close does not, because the descriptor may not be the only one:
 * after fork, csock_fromfd or descriptor passing, shutting the connection down or reading its
 * input here would take them from the other holder. */
int csock_close(csock *s);

/* Closes a connection so that the peer receives everything sent before: shuts the socket down
 * for writing (the peer reads end of stream after the last byte), reads and drops what the peer
 * still sends until its end of stream or until timeout seconds have passed, then closes as
 * csock_close does. timeout is CSOCK_NO_TIMEOUT (wait for the peer's end), 0 (drop only what
 * has arrived, do not wait) or positive; the socket's own timeout plays no part. A peer that
 * reads and closes promptly makes this as quick as a round trip; one that keeps sending is
 * waited for until the timeout. Ends the connection for every holder of the descriptor. Other
 * kinds of sockets, and stream sockets never connected, are just closed. Returns 0 after the
 * peer's end (or with nothing to wait for), CSOCK_ETIMEOUT ("close_gracefully ADDRESS: the peer
 * did not end its side within 2s") when the timeout passed first, a socket error (e.g.
 * CSOCK_ECONNRESET), or CSOCK_EINVAL for a bad timeout (the socket then stays open); in every
 * other case the socket is closed. A closed socket returns 0. */
int csock_close_gracefully(csock *s, double timeout);

/* Frees the object, closing the descriptor first if still open (with csock_close). NULL is
 * allowed. */
void csock_free(csock *s);

/* Step 2: binds to host and port. host is a numeric address or a name resolved for the socket's
 * family; NULL or "" is the wildcard. For AF_UNIX sockets host is the path (any text, "unix:"
 * removed as csock_unix_path says; "@name" for an abstract name) and port must be 0; on other
 * sockets a Unix address is one of another family. Returns 0, or e.g. CSOCK_EADDRINUSE ("bind
 * 127.0.0.1:8080: Address already in use"), CSOCK_EACCES, CSOCK_EADDRNOTAVAIL, CSOCK_EINVAL (bad
 * port), CSOCK_EAFNOSUPPORT (address of another family: "bind /run/a.sock: an AF_UNIX address
 * for an AF_INET socket"), CSOCK_ENAMETOOLONG, CSOCK_EAI_* (name not found). */
int csock_bind(csock *s, const char *host, int port);

/* Binds to a ready-made address. Returns as csock_bind. */
int csock_bind_addr(csock *s, const csock_addr *addr);

/* Step 3: starts listening; backlog is how many connections may wait (values below 0 are taken
 * as 0). Returns 0, or CSOCK_EOPNOTSUPP (not a stream socket), CSOCK_EADDRINUSE, ... */
int csock_listen(csock *s, int backlog);

/* Step 4: waits for a connection and returns the new, connected socket (close-on-exec, with the
 * default timeout); its address goes to *peer unless peer is NULL. Waits within the listening
 * socket's timeout. Returns the socket, or NULL with csock_lastcode() CSOCK_ETIMEOUT, CSOCK_EAGAIN
 * (non-blocking, nobody waiting), CSOCK_EMFILE, CSOCK_EINVAL (not listening), ... */
csock *csock_accept(csock *s, csock_addr *peer);

/* Client step 2: connects to host and port (resolved for the socket's family; first address;
 * Unix addresses as for csock_bind), waiting within the socket's timeout. Returns 0, or e.g.
 * CSOCK_ECONNREFUSED, CSOCK_ETIMEOUT, CSOCK_EINPROGRESS (non-blocking socket: the connection goes
 * on), CSOCK_EAI_NONAME, or as csock_bind for a bad address. A TCP connection that reached its
 * own socket (nothing listens on a local port that the kernel also gave the connection as its
 * source, a "simultaneous open") is no connection: it is undone and refused, "connect
 * 127.0.0.1:40000: Connection refused (the connection reached itself: nothing listens there)",
 * as in Go; csock_connect_ex and csock_create_connection (which then tries the next address)
 * do the same. */
int csock_connect(csock *s, const char *host, int port);

/* Connects to a ready-made address. Returns as csock_connect. */
int csock_connect_addr(csock *s, const csock_addr *addr);

/* Like csock_connect, but as Python's connect_ex: an error of the connect step itself comes back
 * as an indicator rather than as a failure. Returns 0 on success; a positive errno value when
 * connect(2) failed (ECONNREFUSED, EINPROGRESS, ...); CSOCK_ETIMEOUT when the socket's timeout
 * ran out (Python returns EAGAIN there; csock keeps EAGAIN for "would block"). Bad arguments and
 * name lookup failures are negative codes, as for csock_connect. Every result but 0 leaves its
 * message ("connect_ex 127.0.0.1:9: Connection refused"). */
int csock_connect_ex(csock *s, const char *host, int port);

/* Shuts down reading (SHUT_RD), writing (SHUT_WR: the peer's recv returns 0) or both, for every
 * holder of the socket. Closing afterwards with input unread still resets the connection (see
 * csock_close); csock_close_gracefully shuts down writing and reads to the peer's end first.
 * Returns 0, or CSOCK_ENOTCONN, CSOCK_EINVAL (bad how), CSOCK_EBADF (closed). */
int csock_shutdown(csock *s, int how);

/* Stores the socket's own address (after bind, or the one the kernel chose). Returns 0 or a
 * negative code. */
int csock_getsockname(csock *s, csock_addr *out);

/* Stores the connected peer's address. Returns 0, or CSOCK_ENOTCONN, ... */
int csock_getpeername(csock *s, csock_addr *out);

/* ---------------------------------------------------------------------------------------------
 * Sending and receiving. None of these allocate; each makes the one system call raw code would.
 * Implemented in src/io.c (send, recv, sendto, recvfrom), src/msg.c (messages, batches) and
 * src/sendfile.c.
 * ------------------------------------------------------------------------------------------- */

/* Step 5: sends up to len bytes; returns how many went out (possibly fewer than len), or e.g.
 * CSOCK_EPIPE / CSOCK_ECONNRESET (peer gone; never SIGPIPE), CSOCK_ETIMEOUT (nothing could be
 * sent in time), CSOCK_EAGAIN (non-blocking and the buffer is full), CSOCK_EINVAL (NULL buf with
 * len > 0, len over SSIZE_MAX). */
ssize_t csock_send(csock *s, const void *buf, size_t len);

/* csock_send with send(2) flags (MSG_OOB, MSG_DONTWAIT, MSG_MORE, ...). MSG_NOSIGNAL is always
 * added. Returns as csock_send. */
ssize_t csock_send_flags(csock *s, const void *buf, size_t len, int flags);

/* Sends all len bytes, completing partial writes; with a timeout, the whole call must finish
 * within it (a total deadline, as Python's sendall). Returns 0 when everything was sent, or a
 * negative code (as csock_send). *sent (unless NULL) is always set to the bytes that went out,
 * so a failure says how much the peer may have received. */
int csock_sendall(csock *s, const void *buf, size_t len, size_t *sent);

/* Step 5: receives at most len bytes into buf, waiting within the timeout. Returns the count,
 * 0 at end of stream (the peer closed or shut down writing; for datagrams, an empty datagram),
 * or e.g. CSOCK_ETIMEOUT, CSOCK_EAGAIN, CSOCK_ECONNRESET, CSOCK_EINVAL. On a stream, bytes
 * beyond len stay queued for the next call. On a datagram socket (SOCK_DGRAM, SOCK_SEQPACKET,
 * SOCK_RAW) a datagram larger than len is never cut silently: the call fails with
 * CSOCK_EMSGSIZE, buf holds the first len bytes, and the message gives the datagram's size
 * (csock_recvmsg reports it as a number). */
ssize_t csock_recv(csock *s, void *buf, size_t len);

/* csock_recv with recv(2) flags (MSG_PEEK, MSG_WAITALL, MSG_DONTWAIT, ...). */
ssize_t csock_recv_flags(csock *s, void *buf, size_t len, int flags);

/* Sends count bytes of the open file fd, starting at offset, over a stream socket, with the
 * kernel's sendfile(2) so the data is not copied through the program; where the kernel cannot
 * (fd is a pipe, say), it reads and sends instead, as it does on a TLS socket (<csock/tls.h>),
 * through TLS. count 0 means to the end of the input, as
 * Python's count=None: a regular file's size says where that is; a pipe, a device or a file
 * that reports size 0 (a /proc file) is sent until a read finds its end. (An input that never
 * ends, /dev/zero, is sent until the deadline or an error.) With a timeout, the whole call has
 * one deadline, as csock_sendall. Returns 0 when everything was sent; *sent (unless NULL) says
 * how many bytes went, also on failure. Errors: CSOCK_EINVAL (not a stream socket, a negative
 * offset), CSOCK_ESPIPE (an offset other than 0 on a pipe or socket, which cannot seek: nothing
 * is sent), CSOCK_EBADF (fd not open for reading), CSOCK_ENODATA (the input ended before count
 * bytes: "sendfile 127.0.0.1:80: fd 5 ended after 500 of 800 bytes"), or as csock_sendall: a
 * peer that is gone is CSOCK_EPIPE
 * or CSOCK_ECONNRESET, never SIGPIPE (sendfile(2) has no MSG_NOSIGNAL, so SIGPIPE is blocked in
 * the calling thread for the call, and the mask is as it was when it returns). */
int csock_sendfile(csock *s, int fd, off_t offset, size_t count, size_t *sent);

/* Sends a datagram (or stream data) to an address. Returns the count sent, or as csock_send
 * (plus CSOCK_EINVAL for a NULL address, CSOCK_EMSGSIZE for a datagram too large). */
ssize_t csock_sendto(csock *s, const void *buf, size_t len, const csock_addr *to);

/* Receives like csock_recv and stores the sender's address in *from (unless NULL). */
ssize_t csock_recvfrom(csock *s, void *buf, size_t len, csock_addr *from);

/* One message for csock_sendmsg and csock_recvmsg: scatter/gather buffers, an address and
 * ancillary (control) data, as in sendmsg(2) and recvmsg(2). Fields marked "out" are set by the
 * receive calls (and len by the send calls). */
typedef struct csock_msg {
    struct iovec *iov; /* the buffers, filled or sent in order */
    size_t iovcnt;     /* how many buffers (at most IOV_MAX) */
    csock_addr *addr;  /* send: the destination, or NULL on a connected socket;
                          receive: where the sender's address goes, or NULL */
    void *control;     /* ancillary data to send, or a buffer for what arrives (see CMSG_SPACE in
                          <sys/socket.h>); NULL for none */
    size_t controllen; /* bytes of control; receive: out, the bytes that arrived */
    size_t len;        /* out: bytes stored (receive) or sent (send) */
    size_t size;       /* out (receive): the datagram's full size; larger than len when the
                          buffers were too small, and then flags has MSG_TRUNC */
    int flags;         /* out (receive): what happened to the message, 0 or some of MSG_TRUNC
                          (datagram cut), MSG_CTRUNC (control data cut), MSG_EOR, MSG_OOB */
} csock_msg;

/* Sends one message (sendmsg(2)) within the timeout; MSG_NOSIGNAL is always added. Returns the
 * bytes sent (also stored in msg->len), or as csock_send, plus CSOCK_EINVAL for a NULL msg, a
 * NULL buffer or an iovcnt over IOV_MAX. */
ssize_t csock_sendmsg(csock *s, csock_msg *msg, int flags);

/* Receives one message (recvmsg(2)) within the timeout. Returns the bytes stored (also in
 * msg->len), and sets msg->size, msg->flags and msg->controllen; a datagram larger than the
 * buffers is reported through MSG_TRUNC and msg->size rather than as an error. Descriptors
 * passed with SCM_RIGHTS arrive close-on-exec; if the control data was cut (MSG_CTRUNC), every
 * descriptor that did arrive is closed and the call fails with CSOCK_EMSGSIZE, so none leaks
 * ("recvmsg /run/a.sock: ancillary data cut to the 24-byte control buffer; 2 descriptors that
 * arrived were closed"), with msg's other fields set for the data that came. Returns as
 * csock_recv otherwise. */
ssize_t csock_recvmsg(csock *s, csock_msg *msg, int flags);

/* The most messages one csock_sendmany or csock_recvmany call moves. */
#define CSOCK_BATCH_MAX 64

/* Sends up to count messages in one system call, within the timeout. Returns how many were sent
 * (msgs[i].len set for each), which may be fewer than count (at most CSOCK_BATCH_MAX); or a
 * negative code if none could be. A run of UDP datagrams of one size (the last may be shorter)
 * to one destination without control data leaves as one segmented send (UDP_SEGMENT), several
 * times cheaper per datagram; the receiver sees the same datagrams. Otherwise, or where the
 * kernel or route refuses segmentation, sendmmsg(2) sends them. */
int csock_sendmany(csock *s, csock_msg *msgs, size_t count, int flags);

/* Receives up to count messages in one system call (recvmmsg(2)): waits within the timeout for
 * the first, then takes what is already queued. Returns how many arrived (each msgs[i] filled as
 * by csock_recvmsg), at most CSOCK_BATCH_MAX; or a negative code if none did. Every message
 * taken off the socket is returned: one whose control data did not fit its control buffer has
 * MSG_CTRUNC in its flags and controllen 0, and the descriptors that arrived with it are closed
 * (none leaks), where csock_recvmsg would fail with CSOCK_EMSGSIZE. */
int csock_recvmany(csock *s, csock_msg *msgs, size_t count, int flags);

/* ---------------------------------------------------------------------------------------------
 * Unix-domain sockets
 * Implemented in src/unix.c.
 * ------------------------------------------------------------------------------------------- */

/* Binds an AF_UNIX socket to path (any text as csock_bind takes it on an AF_UNIX socket: "unix:"
 * removed, "@name" for an abstract name, exactly as written). mode, unless 0, is given to
 * the socket file (e.g. 0660) before anyone can connect through it. With replace_stale, a
 * socket file left behind by a server that is gone is removed first, but only when no socket is
 * bound to it any more: a live server's path (listening or only bound, of any type) is never
 * taken over, and a path that is not a socket is never removed. Finding out connects to nobody:
 * the probe is a datagram socket's connect(2), which the kernel refuses for a stale file and
 * which reaches no stream or seqpacket server, so a live server never sees a client it did not
 * expect. Returns 0, or CSOCK_EADDRINUSE ("bind /run/app.sock: Address already in use (a server
 * is listening there)"; for an abstract name "(another socket of this type holds the name)"),
 * CSOCK_ENAMETOOLONG, CSOCK_EAFNOSUPPORT (not AF_UNIX), CSOCK_EACCES, ... */
int csock_bind_unix(csock *s, const char *path, int mode, int replace_stale);

/* The identity of the process at the other end of a Unix-domain socket. */
typedef struct csock_cred {
    pid_t pid;
    uid_t uid;
    gid_t gid;
} csock_cred;

/* Stores the peer's credentials as of when it connected (SO_PEERCRED). Returns 0, or
 * CSOCK_EAFNOSUPPORT for a socket that is not AF_UNIX, CSOCK_ENOTCONN, ... */
int csock_getpeercred(csock *s, csock_cred *out);

/* The most descriptors one message carries (Linux's SCM_MAX_FD). */
#define CSOCK_MAX_FDS 253

/* Sends len bytes of buf together with nfds open descriptors (SCM_RIGHTS), like Python's
 * socket.send_fds. The descriptors stay open here too. A stream needs at least one byte of data
 * to carry them. Returns the bytes sent, or CSOCK_EINVAL (no data on a stream, nfds 0 or over
 * CSOCK_MAX_FDS, a negative descriptor), CSOCK_EAFNOSUPPORT (not AF_UNIX), or as csock_send. */
ssize_t csock_send_fds(csock *s, const void *buf, size_t len, const int *fds, size_t nfds);

/* Receives up to len bytes and up to maxfds descriptors (close-on-exec), like Python's
 * socket.recv_fds. *nfds (may not be NULL) is set to how many arrived, stored in fds (which may
 * be NULL when maxfds is 0). Any maxfds is taken; no message carries more than
 * CSOCK_MAX_FDS, so fds needs room for maxfds or CSOCK_MAX_FDS descriptors, whichever is fewer.
 * More descriptors than maxfds is an error, CSOCK_EMSGSIZE, and every descriptor that arrived with
 * that message is closed: none leaks. On a datagram or seqpacket socket, as csock_recv, a datagram
 * larger than len is never cut silently: CSOCK_EMSGSIZE, buf holds its first len bytes, the message
 * gives its size
 * ("recv_fds (unnamed): datagram of 11 bytes does not fit in 5 (the first 5 are in the buffer)"),
 * and the descriptors that came with it are closed (*nfds 0). Returns the bytes received, or
 * CSOCK_EINVAL (NULL nfds, NULL fds with maxfds over 0), or as csock_recvmsg. */
ssize_t csock_recv_fds(csock *s, void *buf, size_t len, int *fds, size_t maxfds, size_t *nfds);

/* ---------------------------------------------------------------------------------------------
 * Timeouts (docs/design.md): CSOCK_NO_TIMEOUT blocks, 0 never waits, > 0 limits each call.
 * Implemented in src/timeout.c.
 * ------------------------------------------------------------------------------------------- */

/* Sets the socket's timeout in seconds: CSOCK_NO_TIMEOUT, 0, or a positive value up to 2^31 s
 * (one under a nanosecond is 1 ns, never 0). Returns 0, or CSOCK_EINVAL for a negative (other
 * than CSOCK_NO_TIMEOUT), NaN, infinite or larger value ("settimeout nan: a timeout is
 * CSOCK_NO_TIMEOUT, 0, or positive up to 2^31 s"); the socket keeps its timeout. */
int csock_settimeout(csock *s, double seconds);

/* Returns the socket's timeout in seconds: CSOCK_NO_TIMEOUT, 0 or positive (CSOCK_NO_TIMEOUT for
 * NULL). */
double csock_gettimeout(const csock *s);

/* csock_setblocking(s, 1) is csock_settimeout(s, CSOCK_NO_TIMEOUT); (s, 0) is (s, 0). */
int csock_setblocking(csock *s, int blocking);

/* Returns 1 unless the timeout is 0 (as Python's getblocking), 0 otherwise or for NULL. */
int csock_getblocking(const csock *s);

/* Sets the timeout new sockets start with (csock_socket, csock_accept, csock_wrap of a blocking
 * descriptor, ...); CSOCK_NO_TIMEOUT at start. Returns 0, or CSOCK_EINVAL as csock_settimeout. */
int csock_setdefaulttimeout(double seconds);

/* Returns the default timeout for new sockets. */
double csock_getdefaulttimeout(void);

/* ---------------------------------------------------------------------------------------------
 * Socket options
 * Implemented in src/options.c.
 * ------------------------------------------------------------------------------------------- */

/* setsockopt(2) and getsockopt(2) as they are, with csock's errors. *len is in/out for get.
 * Return 0 or a negative code (CSOCK_ENOPROTOOPT, CSOCK_EINVAL, ...). */
int csock_setsockopt(csock *s, int level, int name, const void *value, socklen_t len);
int csock_getsockopt(csock *s, int level, int name, void *value, socklen_t *len);

/* The same for the common case of an int option. Return 0 or a negative code. */
int csock_setsockopt_int(csock *s, int level, int name, int value);
int csock_getsockopt_int(csock *s, int level, int name, int *value);

/* Typed setters for the common options (on = nonzero). Each returns 0, or a negative code with
 * a message naming the option ("setsockopt TCP_NODELAY: Operation not supported"); an option
 * that does not apply to the socket's family or type fails with CSOCK_ENOPROTOOPT or
 * CSOCK_EAFNOSUPPORT, never silently. */
int csock_setreuseaddr(csock *s, int on);           /* SO_REUSEADDR */
int csock_setreuseport(csock *s, int on);           /* SO_REUSEPORT */
int csock_setnodelay(csock *s, int on);             /* TCP_NODELAY (TCP only) */
int csock_setbroadcast(csock *s, int on);           /* SO_BROADCAST */
int csock_setv6only(csock *s, int on);              /* IPV6_V6ONLY (AF_INET6 only) */
int csock_setrcvbuf(csock *s, int bytes);           /* SO_RCVBUF */
int csock_setsndbuf(csock *s, int bytes);           /* SO_SNDBUF */
int csock_setlinger(csock *s, int on, int seconds); /* SO_LINGER */

/* SO_KEEPALIVE on or off; with on, idle (seconds before the first probe), interval (seconds
 * between probes) and count (probes before giving up) set TCP_KEEPIDLE, TCP_KEEPINTVL and
 * TCP_KEEPCNT; 0 for any of them keeps the system's value. Returns 0 or a negative code. */
int csock_setkeepalive(csock *s, int on, int idle, int interval, int count);

/* ---------------------------------------------------------------------------------------------
 * Multicast (IPv4 and IPv6 datagram sockets)
 * Implemented in src/multicast.c.
 * ------------------------------------------------------------------------------------------- */

/* Joins the multicast group ("239.1.2.3", "ff02::1:3") on the interface named iface ("eth0";
 * NULL lets the system choose), so datagrams sent to the group arrive on this socket. Returns 0,
 * or CSOCK_EINVAL (not a multicast address), CSOCK_EAFNOSUPPORT (a group of the other family),
 * CSOCK_ENODEV (no such interface), CSOCK_ENOPROTOOPT (not a datagram socket), ... */
int csock_join_group(csock *s, const char *group, const char *iface);

/* Leaves a group joined with csock_join_group. Returns 0 or as csock_join_group
 * (CSOCK_EADDRNOTAVAIL when not a member). */
int csock_leave_group(csock *s, const char *group, const char *iface);

/* Sends multicast datagrams through the interface named iface (NULL: the system's choice).
 * Returns 0 or as csock_join_group. */
int csock_setmulticast_if(csock *s, const char *iface);

/* How many routers multicast datagrams may cross (IPv4 TTL, IPv6 hop limit), 0 to 255; 0 keeps
 * them on this host. Returns 0, or CSOCK_EINVAL out of range, or as csock_join_group. */
int csock_setmulticast_ttl(csock *s, int ttl);

/* Whether this host's own members of a group receive what it sends there (on by default).
 * Returns 0 or as csock_join_group. */
int csock_setmulticast_loop(csock *s, int on);

/* ---------------------------------------------------------------------------------------------
 * Conveniences, as in Python
 * Implemented in src/create.c.
 * ------------------------------------------------------------------------------------------- */

/* Connects to host and port like Python's socket.create_connection: resolves the name, tries
 * every address (a Unix address, csock_unix_path, is the one address, with port 0), racing a
 * name's addresses unless csock_set_happy_eyeballs(0) asks for them in order, and returns the
 * first socket that connects, with the given timeout
 * (CSOCK_DEFAULT_TIMEOUT for the process default). The timeout bounds the whole attempt, across
 * all addresses; it is refused as csock_settimeout refuses it (CSOCK_EINVAL: "create_connection
 * nan: a timeout is ..."). source (may be NULL) is bound before connecting; only addresses of its
 * family are tried. Returns the socket, or NULL: csock_lastcode() is the last attempt's error and
 * the message lists every address tried ("connect localhost:9: [::1]:9: Connection refused;
 * 127.0.0.1:9: Connection refused"). */
csock *csock_create_connection(const char *host, int port, double timeout,
                               const csock_addr *source);

/* Whether csock_create_connection races the addresses of a name (1, the default, as Go's net
 * does) or tries them in order, one at a time (0). Racing is Happy Eyeballs (RFC 8305), as
 * csock_loop_connect does it (<csock/connect.h>), on a loop of the call's own: the IPv6 and IPv4
 * lookups run in parallel, the families take turns, and the next attempt starts 250 ms after the
 * last or at once when one fails, so a name whose IPv6 address hangs connects over IPv4 in about
 * 250 ms rather than at the timeout. A numeric or Unix address, a timeout of 0, or a process out
 * of descriptors for the loop is tried in order either way. Process-wide and thread-safe.
 * Returns the previous setting. */
int csock_set_happy_eyeballs(int on);

/* Options for the listening socket csock_create_server makes; all zeros means the defaults.
 * (The server framework's settings are csock_server_config, in <csock/server.h>.) */
typedef struct csock_listen_options {
    int family;        /* 0: AF_UNIX if host is a Unix address (csock_unix_path), AF_INET6 if it
                          is an IPv6 address or dualstack is set, else AF_INET */
    int type;          /* 0: SOCK_STREAM; SOCK_DGRAM binds without listening */
    int backlog;       /* 0: 128 (capped by the system's somaxconn) */
    int reuse_port;    /* nonzero: set SO_REUSEPORT (several servers share the port) */
    int dualstack;     /* nonzero: one IPv6 socket that also accepts IPv4 (IPV6_V6ONLY off) */
    int no_reuse_addr; /* nonzero: do not set SO_REUSEADDR (set by default on TCP/IP) */
    int unix_mode;     /* AF_UNIX: 0 leaves the socket file as the umask makes it, else its mode */
    int keep_stale;    /* AF_UNIX: nonzero fails on a stale socket file instead of replacing it
                          (a live server's file is never replaced; see csock_bind_unix) */
} csock_listen_options;

/* Creates a socket bound to host and port and listening, like Python's socket.create_server.
 * host NULL or "" is the wildcard address; a Unix address (csock_unix_path: "unix:rel.sock",
 * "/run/a.sock", "@name"; with family AF_UNIX, any text) is bound as csock_bind_unix does, with
 * port 0. opts may be NULL. Returns the socket, or NULL with csock_lastcode() and a message
 * naming the step that failed ("bind 127.0.0.1:80: Permission denied"). */
csock *csock_create_server(const char *host, int port, const csock_listen_options *opts);

/* csock_create_server on a ready-made address (from csock_addr_parse, csock_addr_unix, ...),
 * bound as it is: its family is the socket's (opts->family may be 0 or the same). Returns as
 * csock_create_server, plus CSOCK_EINVAL for an empty address and CSOCK_EAFNOSUPPORT for an
 * address of another family than opts->family. */
csock *csock_create_server_addr(const csock_addr *addr, const csock_listen_options *opts);

/* ---------------------------------------------------------------------------------------------
 * Seeing the steps
 * Implemented in src/trace.c.
 * ------------------------------------------------------------------------------------------- */

/* Turns tracing on or off: when on, every csock call prints one line to stderr naming the step,
 * its arguments and its result ("csock: bind 127.0.0.1:8080 -> ok"). It starts on when the
 * environment has CSOCK_TRACE=1. */
void csock_settrace(int on);

#ifdef __cplusplus
}
#endif

/* The ICMP echo API has a header of its own, <csock/icmp.h>. It is included here as well, after
 * everything it builds on, so that a program that calls it with only <csock.h> included, as it
 * was once declared here, still compiles; new code includes <csock/icmp.h>. */
#include <csock/icmp.h>

#endif /* CSOCK_H */
