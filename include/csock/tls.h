/* SPDX-License-Identifier: MIT */
/* csock TLS: a connected csock socket, wrapped, speaks TLS through the same calls (csock_send,
 * csock_sendall, csock_recv, csock_shutdown, csock_close, csock_settimeout), on OpenSSL 3.
 * Built only where the build found OpenSSL 3 (then this header is installed too).
 *
 * A context (csock_tls_context) holds one side's settings: certificates, what to verify,
 * versions, ALPN. Its defaults are the safe ones, and each is given up only by a call that
 * says so: a client verifies the server's certificate against the system's CAs and checks the
 * host name it was given (an IP literal against the certificate's IP addresses, and then no SNI
 * is sent); TLS 1.2 at least; OpenSSL security level 2; renegotiation off; an end of stream
 * without close_notify is an error (CSOCK_ETLSEOF).
 *
 * A context is configured first, on one thread, and then used: the first socket wrapped with it
 * freezes it, and every setter then fails with CSOCK_EINVAL ("tls context: it is in use (a
 * socket was wrapped with it) and can no longer change"). A frozen context may be shared by any
 * number of threads and sockets. Each wrapped socket holds a reference to its context, so
 * csock_tls_context_free may come as soon as the last wrap has.
 *
 * Errors are csock's: a negative code and a per-thread message with OpenSSL's reason, naming the
 * address ("verify localhost:4433: certificate has expired", "tls ca file x.pem: No such file or
 * directory"). OpenSSL's own errors are CSOCK_ETLS; a refused certificate is CSOCK_ETLSVERIFY;
 * a file the system could not open keeps its errno code (CSOCK_ENOENT, CSOCK_EACCES).
 *
 * Timeouts are the socket's (csock_settimeout): the handshake, a recv, a send and a sendall each
 * run within one deadline, however many records and system calls they take; EINTR is retried
 * within it. Nothing on a TLS socket raises SIGPIPE: OpenSSL's only way to the descriptor is
 * csock's own transport, which sends with MSG_NOSIGNAL.
 *
 * A TCP connection that speaks TLS (a wrapped socket, a TLS stream) gets TCP_NODELAY: TLS
 * writes whole records, and with Nagle's algorithm a server's first reply after a TLS 1.3
 * handshake would wait behind its session tickets for the client's delayed ACK (some 40 ms). It
 * stays set after csock_tls_unwrap.
 *
 * On a TLS socket csock_send_flags takes MSG_DONTWAIT (MSG_NOSIGNAL is implied) and
 * csock_recv_flags MSG_DONTWAIT and MSG_PEEK; other flags, and an address for csock_sendto or
 * csock_recvfrom, are CSOCK_EINVAL ("send: flags 0x1: a TLS socket takes only MSG_DONTWAIT").
 *
 * csock_close on a TLS socket delivers what was sent: it sends close_notify (after the rest of
 * a record a timed-out send left half written), waiting for room to send it; then, if input is
 * unread (a TLS 1.3 server's session tickets, say) or ours is not all taken, it lingers, reading
 * and dropping the peer's records until its close_notify or end of stream, since a close with
 * input unread would reset the connection and lose what the peer has not read yet. Both take no
 * longer than the socket's timeout and 5 s at most (a non-blocking socket: only what can go and
 * what has come now). csock_shutdown with SHUT_WR or SHUT_RDWR sends close_notify too (a send
 * after it is CSOCK_EPIPE, as on a plain socket), and csock_detach drops the session without it.
 *
 * Once TLS has failed on a connection, every later call on it fails with the same code and
 * reason ("recv localhost:4433: decryption failed or bad record mac (TLS failed earlier on this
 * connection)"), and csock_close sends no close_notify.
 *
 * On a non-blocking socket (timeout 0) a call may fail with CSOCK_EAGAIN because TLS needs to
 * read where the caller wrote, or the reverse: csock_tls_want says which to wait for. After a
 * csock_send that failed with CSOCK_EAGAIN or CSOCK_ETIMEOUT, the next csock_send must offer
 * the same bytes again (at least as many), as OpenSSL requires: part of a record may be out.
 * Fewer are refused with CSOCK_EINVAL ("send localhost:4433: 10 bytes: a send that could not
 * finish left a record under way: offer the same 16384 bytes again (at least as many)"), and the
 * connection goes on.
 */
#ifndef CSOCK_TLS_H
#define CSOCK_TLS_H

#include <csock.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The side a context is for. */
#define CSOCK_TLS_CLIENT 1
#define CSOCK_TLS_SERVER 2

/* What to ask of the peer's certificate (csock_tls_context_set_verify). */
#define CSOCK_TLS_VERIFY_NONE 0 /* nothing: any certificate, or none, is taken */
#define CSOCK_TLS_VERIFY_OPTIONAL                                                                  \
    1                               /* a server asks for one and verifies it if it comes (a        \
                                       client takes this as REQUIRED, as Python does) */
#define CSOCK_TLS_VERIFY_REQUIRED 2 /* one must come and verify: a client's default */

/* Protocol versions (csock_tls_context_set_versions), the protocol's own numbers. */
#define CSOCK_TLS_V1_2 0x0303
#define CSOCK_TLS_V1_3 0x0304

typedef struct csock_tls_context csock_tls_context;

/* Creates a context for side CSOCK_TLS_CLIENT or CSOCK_TLS_SERVER with the defaults above: a
 * client verifies (CSOCK_TLS_VERIFY_REQUIRED, the system's CAs, host name checked); a server
 * asks for no certificate (CSOCK_TLS_VERIFY_NONE) and needs one of its own
 * (csock_tls_context_load_cert_chain) before it can wrap. Returns the context (free it with
 * csock_tls_context_free), or NULL with CSOCK_EINVAL ("tls context: side 3 is neither
 * CSOCK_TLS_CLIENT nor CSOCK_TLS_SERVER") or CSOCK_ETLS/CSOCK_ENOMEM with OpenSSL's reason. */
csock_tls_context *csock_tls_context_new(int side);

/* Gives up the caller's reference to ctx; the context goes when the last socket wrapped with it
 * has been closed or unwrapped. NULL is allowed. */
void csock_tls_context_free(csock_tls_context *ctx);

/* Trusts the CA certificates in file (PEM, one or more) and/or in directory dir (hashed names,
 * as c_rehash makes them), in addition to what is trusted already; either may be NULL, not
 * both. Returns 0, or CSOCK_EINVAL (both NULL, frozen), the system's code for a file or
 * directory it could not open ("tls ca file x.pem: No such file or directory": CSOCK_ENOENT;
 * "tls ca directory x.pem: Not a directory": CSOCK_ENOTDIR; "tls ca file certs: Is a directory":
 * CSOCK_EISDIR), or CSOCK_ETLS for a file OpenSSL
 * could not read ("tls ca file x.pem: no certificate or crl found"). A server trusts only the
 * CAs loaded here when it verifies its clients. */
int csock_tls_context_load_ca(csock_tls_context *ctx, const char *file, const char *dir);

/* Drops the system's CAs from what a client trusts, so that only the CAs loaded with
 * csock_tls_context_load_ca are (before or after this call). Returns 0, or CSOCK_EINVAL
 * (frozen). */
int csock_tls_context_no_system_ca(csock_tls_context *ctx);

/* Loads this side's certificate chain (PEM: the certificate first, then its intermediates) and
 * its private key (PEM; keyfile NULL: the key is in certfile), and checks that the two belong
 * together. Returns 0, or as csock_tls_context_load_ca for either file ("tls certificate chain
 * c.pem: ...", "tls private key k.pem: ..."), CSOCK_EINVAL "tls private key c.pem: no private
 * key in it (pass the key file too)" when keyfile is NULL and certfile holds no key, or
 * CSOCK_ETLS "tls private key k.pem: key values mismatch" for a key of another certificate. */
int csock_tls_context_load_cert_chain(csock_tls_context *ctx, const char *certfile,
                                      const char *keyfile);

/* Sets what is asked of the peer's certificate: CSOCK_TLS_VERIFY_NONE, _OPTIONAL or _REQUIRED
 * (a server that requires client certificates refuses a client without one, CSOCK_ETLSVERIFY
 * "verify 127.0.0.1:5000: peer did not return a certificate"). NONE on a client also stops the
 * host name check. Returns 0, or CSOCK_EINVAL (another value, frozen). */
int csock_tls_context_set_verify(csock_tls_context *ctx, int mode);

/* A client's host name check: on (the default) or off (0): the certificate must then only be
 * one the trusted CAs signed. Returns 0, or CSOCK_EINVAL (a server context, frozen). */
int csock_tls_context_set_check_hostname(csock_tls_context *ctx, int on);

/* Bounds the protocol versions: min and max are CSOCK_TLS_V1_2 or CSOCK_TLS_V1_3, or 0 for
 * the default (min: TLS 1.2; max: the highest OpenSSL has). Returns 0, or CSOCK_EINVAL (another
 * value, max below min, frozen): "tls versions: 0x0301 is not CSOCK_TLS_V1_2 or
 * CSOCK_TLS_V1_3". */
int csock_tls_context_set_versions(csock_tls_context *ctx, int min, int max);

/* OpenSSL's security level, 0 to 5 (default 2: keys of 112 bits of security at least, no SHA-1
 * signatures). Lowering it is for talking to old peers only. Returns 0, or CSOCK_EINVAL (out of
 * range, frozen). */
int csock_tls_context_set_security_level(csock_tls_context *ctx, int level);

/* The ALPN protocols, count names of 1 to 255 bytes each ("h2", "http/1.1"), in order of
 * preference. A client offers them; a server picks its first that the client offered, and goes
 * on without ALPN when none is (as Python does). count 0 clears the list. The result is read
 * with csock_tls_alpn. Returns 0, or CSOCK_EINVAL (NULL or an empty or long name, frozen),
 * CSOCK_ENOMEM. */
int csock_tls_context_set_alpn(csock_tls_context *ctx, const char *const *protocols, size_t count);

/* Accepts an end of stream without close_notify as an ordinary end (csock_recv returns 0), for
 * peers that just close (on, nonzero); by default (off) it is CSOCK_ETLSEOF, since an attacker
 * (or a crash) may cut what the peer sent short: "recv 127.0.0.1:443: the peer ended without
 * close_notify (what it sent may be cut short)". Returns 0, or CSOCK_EINVAL (frozen). */
int csock_tls_context_set_ragged_eof(csock_tls_context *ctx, int on);

/* Appends the keys of every connection made with ctx to path (created 0600 if new), in the NSS
 * key log format Wireshark reads, as SSLKEYLOGFILE does elsewhere. Off unless asked: anyone who
 * can read the file can read the traffic. Returns 0, or CSOCK_EINVAL (frozen, NULL path, set
 * twice), or the system's code ("tls key log /x/keys: Permission denied"). */
int csock_tls_context_set_keylog(csock_tls_context *ctx, const char *path);

/* Gives a client context a cache of the sessions servers give, for size servers (by name and
 * port, the oldest replaced first; 0: none, the default), as Go's ClientSessionCache: a later
 * connection to the same server resumes its session (csock_tls_session_reused), which saves the
 * server's signature and the certificate's verification. A TLS 1.3 server's session arrives
 * with the first data read after the handshake. Returns 0, or CSOCK_EINVAL (a server context,
 * which resumes sessions by itself; over 1024; frozen), CSOCK_ENOMEM. */
int csock_tls_context_set_session_cache(csock_tls_context *ctx, size_t size);

/* Bounds the handshake of a TLS stream (csock_stream_new_tls, csock_stream_start_tls) or of a
 * server's connection (csock_server_config.tls, every mode) to seconds (default 10): a peer that
 * sends nothing, or too little, is closed then with CSOCK_ETIMEOUT, and costs nothing but its
 * descriptor and memory meanwhile (a peer that sends what is not TLS is closed at once,
 * CSOCK_ETLS). Blocking wraps keep the socket's own timeout. Returns 0, or CSOCK_EINVAL (not
 * positive, NaN, over 2^31 s: "tls handshake timeout: ..."; frozen). */
int csock_tls_context_set_handshake_timeout(csock_tls_context *ctx, double seconds);

/* A server's choice of certificate by the name a client asks for (SNI): called during each
 * handshake of a server context with the name (NULL when the client sent none) and the data
 * given. It returns 0 to go on, leaving *use NULL to keep the context or setting it to another
 * server context (with a certificate) to switch to for this connection, or a negative value to
 * refuse the client (which gets an unrecognized_name alert; the handshake fails with
 * CSOCK_ETLS). Called on the thread that runs the handshake, so possibly on several at once. */
typedef int (*csock_tls_sni_callback)(const char *server_name, csock_tls_context **use, void *data);

/* Sets the SNI callback of a server context (fn NULL: none, the default; every client gets ctx).
 * A context fn switches to is frozen then and held by the connection while it needs it; it must
 * not be freed by its owner before the last handshake that may switch to it. A context switched
 * to gives its certificate and key; the first context's other settings (verification, ALPN,
 * versions) stay. Returns 0, or CSOCK_EINVAL (a client context, frozen). */
int csock_tls_context_set_sni_callback(csock_tls_context *ctx, csock_tls_sni_callback fn,
                                       void *data);

/* Makes a connected stream socket a TLS client and runs the handshake within the socket's
 * timeout. server_name is the host the server is meant to be: sent as SNI (unless it is an IP
 * literal) and checked against the certificate (a name, or an IP literal against its IP
 * addresses); NULL only with the host name check or verification off. On success the socket
 * speaks TLS: every data call goes through it (csock_sendfile reads the file and sends it through
 * TLS, with one deadline, as csock_sendall does: there is no kernel TLS), csock_sendmsg and its
 * kin are refused (CSOCK_EINVAL), and csock_dup too. Returns 0, or: CSOCK_EINVAL (NULL, not a
 * stream socket, TLS already, a server context, no server_name where one is needed),
 * CSOCK_ETLSVERIFY ("verify localhost:4433: certificate has expired", "... : hostname mismatch
 * (the certificate is for example.com)", "... : unable to get local issuer certificate", "... :
 * self-signed certificate"), CSOCK_ETLS ("tls handshake localhost:4433: wrong version number
 * (the peer does not seem to speak TLS)"), CSOCK_ETLSEOF (the peer closed during the handshake),
 * CSOCK_ETIMEOUT, CSOCK_ECONNRESET, ... Then the socket is plain again and should be closed. On
 * a non-blocking socket the handshake only starts: CSOCK_EAGAIN, and csock_tls_handshake goes on
 * with it. */
int csock_tls_wrap_client(csock *s, csock_tls_context *ctx, const char *server_name);

/* Makes a connected (accepted) stream socket a TLS server, running the handshake within the
 * socket's timeout. Returns as csock_tls_wrap_client; CSOCK_EINVAL also for a client context or
 * one without a certificate ("tls wrap: the server context has no certificate (load one with
 * csock_tls_context_load_cert_chain)"), and CSOCK_ETLSVERIFY for a client certificate refused
 * ("verify 127.0.0.1:41000: peer did not return a certificate"). A refused client has been sent
 * an alert saying why; close the socket with csock_close_gracefully so that it reads it (a TLS 1.3
 * client may already have sent data, and a plain close would reset the connection first). The
 * server framework does so itself. */
int csock_tls_wrap_server(csock *s, csock_tls_context *ctx);

/* Goes on with a handshake that a non-blocking socket left half done (CSOCK_EAGAIN). Returns 0
 * once it is done (at once when it was), CSOCK_EAGAIN again (wait as csock_tls_want says), or as
 * csock_tls_wrap_client; CSOCK_EINVAL for a socket that is not TLS. */
int csock_tls_handshake(csock *s);

/* Connects to host and port and makes the connection a TLS client of ctx with host as the
 * server name, within one deadline of timeout seconds over resolving, connecting and the
 * handshake (CSOCK_DEFAULT_TIMEOUT for the process default, CSOCK_NO_TIMEOUT for none; 0 is
 * refused: a handshake must wait). The socket keeps timeout as its timeout. Returns the socket,
 * or NULL with CSOCK_EINVAL before any connection is made (NULL ctx, a server context, timeout
 * 0: "tls connect localhost:4433: the context is a server's (a client context is needed)"),
 * csock_create_connection's errors or csock_tls_wrap_client's (CSOCK_ETIMEOUT "tls handshake
 * localhost:4433: timed out" when the deadline passes in the handshake). */
csock *csock_tls_connect(const char *host, int port, csock_tls_context *ctx, double timeout);

/* Ends TLS on s and leaves it a plain, open socket: sends close_notify, then waits (within the
 * socket's timeout) for the peer's, as Python's SSLSocket.unwrap. Whatever the peer sends in
 * plain after its close_notify is then read with csock_recv. Returns 0, or CSOCK_EINVAL (not
 * TLS), CSOCK_ETLS when data came before the peer's close_notify ("tls unwrap 127.0.0.1:443: 4
 * bytes of data came before the peer's close_notify (read them with csock_recv, then unwrap
 * again)"): nothing is lost, the socket stays TLS and usable, csock_recv returns the data and
 * then 0 at the peer's close_notify, and unwrapping again completes; CSOCK_ETLSEOF (the peer
 * closed without close_notify), CSOCK_ETIMEOUT, CSOCK_EAGAIN (non-blocking: call it again). On
 * failure the socket stays TLS. */
int csock_tls_unwrap(csock *s);

/* The protocol version in use ("TLSv1.2", "TLSv1.3"), or NULL for a socket that is not TLS or
 * whose handshake is not done. Static text. */
const char *csock_tls_version(const csock *s);

/* The cipher suite in use ("TLS_AES_256_GCM_SHA384", "ECDHE-RSA-AES128-GCM-SHA256"), or NULL as
 * csock_tls_version. Static text. */
const char *csock_tls_cipher(const csock *s);

/* The ALPN protocol agreed on ("h2"), or NULL when none was (or as csock_tls_version). Valid
 * while s is TLS. */
const char *csock_tls_alpn(const csock *s);

/* The server name: on a client, the one it was wrapped with; on a server, the SNI the client
 * sent (none for an IP literal). NULL when there is none or s is not TLS. Valid while s is TLS. */
const char *csock_tls_server_name(const csock *s);

/* Returns 1 if the handshake resumed an earlier session (a server remembers its sessions and
 * gives TLS 1.3 clients tickets), else 0 (also for a socket that is not TLS). */
int csock_tls_session_reused(const csock *s);

/* Writes the subject of the peer's certificate, as RFC 2253 text ("O=csock test,CN=localhost",
 * as Go's pkix.Name prints it), into buf (size bytes, NUL included). Returns its length, or
 * CSOCK_ENOENT (the peer gave no certificate: "tls peer subject localhost:4433: the peer gave no
 * certificate"), CSOCK_ENOSPC (buf too small: "... : 40 bytes of text (its NUL included) do not
 * fit in 16"; buf then holds ""), CSOCK_EINVAL (not TLS past its handshake, NULL buf). */
int csock_tls_peer_subject(const csock *s, char *buf, size_t size);

/* Copies the peer's certificate, DER-encoded (Python's getpeercert(binary_form=True)), into buf
 * (size bytes); with buf NULL and size 0 it only says how long it is. Returns its length, or
 * CSOCK_ENOENT (the peer gave no certificate), CSOCK_ENOSPC (buf too small: "tls peer certificate
 * localhost:4433: 812 bytes of DER do not fit in 100"), CSOCK_EINVAL (not TLS past its
 * handshake, NULL buf with size above 0). d2i_X509 reads it back, for what csock does not tell. */
int csock_tls_peer_certificate(const csock *s, unsigned char *buf, size_t size);

/* How many bytes of plaintext TLS has decrypted and csock_recv will return without reading the
 * socket (which a poll on the descriptor does not see). 0 for a socket that is not TLS. */
size_t csock_tls_pending(const csock *s);

/* What the last call on a non-blocking TLS socket that failed with CSOCK_EAGAIN waits for:
 * POLLIN or POLLOUT (<poll.h>); 0 when there is nothing to wait for or s is not TLS. */
int csock_tls_want(const csock *s);

#ifdef __cplusplus
}
#endif

#endif /* CSOCK_TLS_H */
