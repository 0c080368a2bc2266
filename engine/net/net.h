/*
 * Network connections: TCP with timeouts, directly or through a SOCKS5 or
 * HTTP CONNECT proxy, implicit TLS or a later STARTTLS upgrade, and a
 * buffered reader with limits. The only module that includes OpenSSL
 * (DESIGN.md).
 *
 * Every wait (connect, each read, each write) is bounded by the
 * connection's timeout. Network errors, closed connections and timeouts
 * are ERR_TRANSIENT; certificate and TLS setup errors are ERR_SOURCE
 * (retrying will not fix them); bad TLS settings are ERR_FATAL.
 */
#ifndef M2T_NET_H
#define M2T_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/config/config.h"
#include "engine/util/buf.h"
#include "engine/util/err.h"

struct net_conn;
/* An SSL_CTX built from one struct tls_settings; share it between
 * connections that use the same settings. */
struct net_tls;

/*
 * The TLS context for *ts: one SSL_CTX per distinct settings, shared (and
 * counted) between every connection that uses the same settings, created
 * under a lock so that threads may call this at once. Copies what it needs
 * from *ts. Bad settings (a cipher list OpenSSL does not know, an
 * unreadable CA file) are ERR_FATAL. Allowing TLS 1.0 or 1.1 lowers
 * OpenSSL's security level for this context only, and says so in the log.
 */
int net_tls_new(const struct tls_settings *ts, struct net_tls **tls_r, struct err *err);
/* Drops this reference; the last one frees the context. Sets *tls to NULL.
 * Connections using it must be freed first. */
void net_tls_free(struct net_tls **tls);

/*
 * Resolves host (getaddrinfo) and connects to each address in turn, each
 * attempt bounded by timeout_ms (0 = 30 s), which also becomes the
 * connection's read/write timeout.
 *
 * With a proxy (not NULL nor PROXY_NONE: the account's), the proxy is
 * connected to instead and asked for a tunnel to host:port: SOCKS5 sends
 * the name (the proxy resolves it), HTTP sends CONNECT host:port. The
 * handshake as a whole is bounded by timeout_ms. Everything later (TLS
 * with host as SNI and verification name, the protocol) goes through the
 * tunnel unchanged. A proxy that cannot be reached, or cannot reach the
 * server, is ERR_TRANSIENT; one that refuses the credentials or the
 * destination, or answers nonsense, is ERR_SOURCE.
 */
int net_conn_open(const char *host, unsigned port, const struct proxy_settings *proxy,
		  uint64_t timeout_ms, struct net_conn **conn_r, struct err *err);
/* How c reached its server: "socks5 proxy 127.0.0.1 port 1080 as m2t",
 * "http proxy ..."; "" when directly. Owned by c. */
const char *net_conn_proxy(const struct net_conn *c);

/* Closes (TLS close_notify when possible) and frees; sets *conn to NULL. */
void net_conn_free(struct net_conn **conn);

/* The limit of each later wait (read, write, handshake); 0 = 30 s. */
void net_conn_set_timeout(struct net_conn *c, uint64_t timeout_ms);
/*
 * Bounds the whole session: from now on no wait goes past now + ms, and
 * one that would fails as "session time limit ... reached"
 * (ERR_TRANSIENT). 0 removes the bound.
 */
void net_conn_set_session_limit(struct net_conn *c, uint64_t ms);
/* The address connected to, numeric: "127.0.0.1" or "::1" (through a
 * proxy: the proxy's address). Owned by c. */
const char *net_conn_peer(const struct net_conn *c);

/* What a TLS handshake showed of the server; text fields are cleaned. */
struct net_tls_info {
	bool have_cert;         /* the server sent a certificate */
	bool verified;          /* chain and name verified */
	bool handshake_done;
	char version[16];       /* "TLSv1.3" */
	char cipher[64];
	char subject[256];      /* RFC 2253 */
	char issuer[256];
	char sans[512];         /* "DNS:localhost, IP:127.0.0.1" */
	char not_after[32];     /* "2026-12-21 10:00:00 UTC" */
	long days_left;         /* negative when expired */
	char pin_sha256[48];    /* base64 SHA-256 of the SubjectPublicKeyInfo */
	char problem[384];      /* why verification failed, in plain words; "" if not */
};

/* What the last handshake on c learned, also after a failed one (then
 * with what could be seen); NULL before any handshake. Owned by c. */
const struct net_tls_info *net_conn_tls_info(const struct net_conn *c);

/*
 * TLS handshake on an open connection (implicit TLS right after open, or
 * after a STARTTLS command was accepted). Fails, before any handshake, when
 * bytes from the server are already buffered: after STARTTLS they would be
 * plaintext an attacker injected (CVE-2011-0411 class). The name checked
 * (and sent as SNI) is the settings' server_name, else the host given to
 * net_conn_open. `tls` is borrowed and must outlive the connection.
 * Certificate failures are ERR_SOURCE with the reason in plain words
 * ("the certificate is for mail.example.org, not imap.example.com"). With
 * pin_sha256 set, the server's key must match one pin, even when
 * verify: false; with verify: false a bad certificate is accepted, with a
 * warning that says what is wrong with it.
 */
int net_conn_start_tls(struct net_conn *c, struct net_tls *tls, struct err *err);
bool net_conn_is_tls(const struct net_conn *c);

/* Writes all of data. */
int net_conn_write(struct net_conn *c, const void *data, size_t len, struct err *err);

/*
 * Buffered bytes, reading (waiting at most the timeout) when none are
 * buffered: *p_r and *len_r (len > 0) stay valid until the next call on c.
 * Consume what was used with net_conn_consume.
 */
int net_conn_peek(struct net_conn *c, const char **p_r, size_t *len_r, struct err *err);
void net_conn_consume(struct net_conn *c, size_t n);
/* Bytes read from the socket but not consumed yet. */
size_t net_conn_buffered(const struct net_conn *c);

/*
 * For an event loop that waits on many connections at once (the daemon's
 * IMAP IDLE loop): the socket to put in its poll/epoll set, and a read that
 * never waits. With TLS, OpenSSL may already hold decrypted bytes the
 * socket no longer shows as readable: after a readable event, call
 * net_conn_read_nowait until it returns 0 before waiting on the fd again.
 * 1: bytes were added to the buffer (net_conn_peek then returns at once);
 * 0: nothing can be had without waiting; -1: error or closed (ERR_TRANSIENT).
 */
int net_conn_fd(const struct net_conn *c);
int net_conn_read_nowait(struct net_conn *c, struct err *err);

/*
 * One line, without its CRLF (a bare LF is accepted). A line longer than
 * max bytes is an error as soon as max is passed, without waiting for its
 * end (ERR_SOURCE; the connection is then unusable). *line_r is valid until the next
 * call on c and is NUL-terminated.
 */
int net_conn_read_line(struct net_conn *c, size_t max, const char **line_r, size_t *len_r,
		       struct err *err);

/* Receives the bytes of a read_exact, chunk by chunk. <0 stops the read. */
typedef int (*net_data_cb)(void *ud, const char *data, size_t len, struct err *err);
/* Exactly n bytes, streamed to cb without buffering them all. */
int net_conn_read_exact(struct net_conn *c, uint64_t n, net_data_cb cb, void *ud,
			struct err *err);
/* Exactly n bytes appended to out (fails, ERR_MESSAGE, past out->max). */
int net_conn_read_exact_buf(struct net_conn *c, uint64_t n, struct buf *out, struct err *err);

#endif
