/*
 * SECURITY: the handshake is where the server's identity is checked:
 * SSL_VERIFY_PEER with the host name (SSL_set1_host, or the IP address for
 * IP literals), then the key pins. verify:false is possible but logged as a
 * warning on every handshake, with what is wrong with the certificate.
 * Bytes buffered before the handshake abort it (STARTTLS injection).
 *
 * OpenSSL writes to the socket with write(), which raises SIGPIPE when the
 * server has gone: every SSL_* call runs with SIGPIPE blocked for the
 * thread and a SIGPIPE it caused is discarded (as libpq does), so a closed
 * connection is an error, not the end of the process.
 *
 * OpenSSL's per-thread error queue is cleared before every SSL_* I/O call,
 * so SSL_get_error() never reports a stale error from another connection.
 */
#include "engine/net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "engine/net/net_int.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

struct pipe_guard {
	sigset_t old;
	bool was_pending;
};

static void pipe_block(struct pipe_guard *g)
{
	sigset_t set, pending;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &g->old);
	sigemptyset(&pending);
	sigpending(&pending);
	g->was_pending = sigismember(&pending, SIGPIPE) == 1;
}

static void pipe_restore(struct pipe_guard *g)
{
	sigset_t set, pending;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigemptyset(&pending);
	sigpending(&pending);
	if (!g->was_pending && sigismember(&pending, SIGPIPE) == 1) {
		struct timespec zero = {0, 0};
		int saved = errno;
		sigtimedwait(&set, NULL, &zero);
		errno = saved;
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static const char *ossl_reason(char *out, size_t outlen)
{
	unsigned long e = ERR_peek_last_error();
	if (!e)
		return "unknown error";
	ERR_error_string_n(e, out, outlen);
	return out;
}

static bool is_ip_literal(const char *name)
{
	unsigned char addr[16];
	return inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
}

/* Turns a failed SSL_* call into an error; 1 when the caller should wait
 * and retry, -1 on error. */
static int ssl_want(struct net_conn *c, int r, const char *what, struct err *err)
{
	char why[256];
	int e = SSL_get_error(c->ssl, r);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		return net_conn_wait(c, POLLIN, what, err) < 0 ? -1 : 1;
	case SSL_ERROR_WANT_WRITE:
		return net_conn_wait(c, POLLOUT, what, err) < 0 ? -1 : 1;
	case SSL_ERROR_ZERO_RETURN:
		return err_set(err, ERR_TRANSIENT, "connection closed by %s", c->host);
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error())
			break;
		if (errno)
			return err_set(err, ERR_TRANSIENT, "%s %s: %s", what, c->host,
				       strerror(errno));
		return err_set(err, ERR_TRANSIENT, "connection closed by %s (no TLS close_notify)",
			       c->host);
	default:
		break;
	}
	return err_set(err, ERR_TRANSIENT, "TLS error %s %s: %s", what, c->host,
		       ossl_reason(why, sizeof(why)));
}

/* The allowed version range, as an admin wrote it: "1.2" and "1.3". */
static void versions_text(const struct net_tls *t, char lo[16], char hi[16])
{
	snprintf(lo, 16, "1.%d", t->min_version ? t->min_version - 10 : 2);
	snprintf(hi, 16, "1.%d", t->max_version ? t->max_version - 10 : 3);
}

/* Words for the handshake failures admins meet most. */
static void explain_protocol_error(struct net_conn *c, const struct net_tls *t,
				   struct err *err)
{
	int reason = ERR_GET_REASON(ERR_peek_error());
	char prev[sizeof(err->msg)];
	snprintf(prev, sizeof(prev), "%s", err->msg);
	if (reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION ||
	    reason == SSL_R_NO_PROTOCOLS_AVAILABLE || reason == SSL_R_WRONG_SSL_VERSION) {
		char lo[16], hi[16];
		versions_text(t, lo, hi);
		err_set(err, ERR_SOURCE, "%s and this client have no TLS version in common "
			"(allowed here: %s to %s; see tls.min_version/max_version)", c->host, lo,
			hi);
	} else if (reason == SSL_R_NO_SHARED_CIPHER || reason == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE ||
		   reason == SSL_R_NO_CIPHERS_AVAILABLE) {
		err_set(err, ERR_SOURCE, "%s refused the TLS handshake (no cipher in common? "
			"see tls.ciphers/ciphersuites): %s", c->host, prev);
	} else if (reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		char lo[16], hi[16];
		versions_text(t, lo, hi);
		err_set(err, ERR_SOURCE, "%s closed the connection during the TLS handshake: it "
			"may refuse the TLS versions (%s to %s) or the ciphers allowed here",
			c->host, lo, hi);
	} else if (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
		   reason == SSL_R_RECORD_LENGTH_MISMATCH) {
		err_set(err, ERR_SOURCE, "%s does not speak TLS on this port (a plaintext port? "
			"try security: starttls)", c->host);
	}
}

static int handshake(struct net_conn *c, const struct net_tls *t, const char *name,
		     struct err *err)
{
	SSL *ssl = c->ssl;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		struct pipe_guard g;
		pipe_block(&g);
		int r = SSL_connect(ssl);
		pipe_restore(&g);
		if (r == 1)
			return 0;
		long vr = SSL_get_verify_result(ssl);
		if (vr != X509_V_OK && t->verify) {
			net_tls_info_fill(c, t, name, vr);
			return err_set(err, ERR_SOURCE, "certificate of \"%s\" not accepted: %s",
				       name, c->tinfo->problem);
		}
		int w = ssl_want(c, r, "in the TLS handshake with", err);
		if (w < 0) {
			if (err && err->cls == ERR_TRANSIENT && ERR_peek_error()) {
				err->cls = ERR_SOURCE;  /* protocol refusal, not the network */
				explain_protocol_error(c, t, err);
			}
			net_tls_info_fill(c, t, name, vr);
			return -1;
		}
	}
}

int net_conn_start_tls(struct net_conn *c, struct net_tls *tls, struct err *err)
{
	char why[256];
	if (c->ssl)
		return err_set(err, ERR_FATAL, "TLS already started (bug)");
	/* Anything the server sent before our ClientHello was sent in the clear
	 * after STARTTLS and would be read as if it came through TLS. */
	size_t pending = c->rend - c->rstart;
	if (pending == 0) {
		char b;
		ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n > 0)
			pending = 1;
	}
	if (pending)
		return err_set(err, ERR_SOURCE,
			       "%s sent data before the TLS handshake (possible STARTTLS "
			       "injection); connection refused", c->host);
	/* not const: SSL_set_tlsext_host_name is a macro that casts to void * */
	char *name = tls->server_name ? tls->server_name : c->host;
	ERR_clear_error();
	SSL *ssl = SSL_new(tls->ctx);
	if (!ssl)
		return err_set(err, ERR_FATAL, "SSL_new: %s", ossl_reason(why, sizeof(why)));
	c->ssl = ssl;
	if (!SSL_set_fd(ssl, c->fd))
		goto ossl_fail;
	/* the name is checked with verify:false too, only to say so in the warning */
	if (is_ip_literal(name)) {
		/* RFC 6066: no SNI for addresses; check the certificate's IP SAN */
		if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name))
			goto ossl_fail;
	} else {
		if (!SSL_set_tlsext_host_name(ssl, name))
			goto ossl_fail;
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (!SSL_set1_host(ssl, name))
			goto ossl_fail;
	}
	if (handshake(c, tls, name, err) < 0)
		goto fail;
	long vr = SSL_get_verify_result(ssl);
	net_tls_info_fill(c, tls, name, vr);
	if (net_tls_pin_check(c, tls, err) < 0)
		goto fail;
	if (!tls->verify && vr != X509_V_OK)
		log_warn("net.tls", "host=%s msg=\"certificate accepted although it is not valid "
			 "(tls.verify: false): %s\"", c->host, c->tinfo->problem);
	else if (!tls->verify)
		log_warn("net.tls", "host=%s msg=\"certificate verification is disabled "
			 "(tls.verify: false)\"", c->host);
	log_debug("net.tls", "host=%s version=%s cipher=%s", c->host, SSL_get_version(ssl),
		  SSL_get_cipher_name(ssl));
	return 0;
ossl_fail:
	err_set(err, ERR_FATAL, "TLS setup for \"%s\": %s", name, ossl_reason(why, sizeof(why)));
fail:
	SSL_free(ssl);
	c->ssl = NULL;
	return -1;
}

ssize_t net_tls_read(struct net_conn *c, char *buf, size_t len, struct err *err)
{
	for (;;) {
		size_t n = 0;
		ERR_clear_error();
		errno = 0;
		struct pipe_guard g;
		pipe_block(&g);
		int r = SSL_read_ex(c->ssl, buf, len, &n);
		pipe_restore(&g);
		if (r == 1)
			return (ssize_t)n;
		if (ssl_want(c, r, "reading from", err) < 0)
			return -1;
	}
}

ssize_t net_tls_read_nowait(struct net_conn *c, char *buf, size_t len, struct err *err)
{
	size_t n = 0;
	ERR_clear_error();
	errno = 0;
	struct pipe_guard g;
	pipe_block(&g);
	int r = SSL_read_ex(c->ssl, buf, len, &n);
	pipe_restore(&g);
	if (r == 1)
		return (ssize_t)n;
	int e = SSL_get_error(c->ssl, r);
	/* half a record on the socket (or a renegotiation's write): the event
	 * loop waits for the fd again instead of blocking here */
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	return ssl_want(c, r, "reading from", err) < 0 ? -1 : 0;
}

int net_tls_write(struct net_conn *c, const char *data, size_t len, struct err *err)
{
	while (len) {
		size_t n = 0;
		ERR_clear_error();
		errno = 0;
		struct pipe_guard g;
		pipe_block(&g);
		int r = SSL_write_ex(c->ssl, data, len, &n);
		pipe_restore(&g);
		if (r == 1) {
			data += n;
			len -= n;
			continue;
		}
		if (ssl_want(c, r, "writing to", err) < 0)
			return -1;
	}
	return 0;
}

void net_tls_close(struct net_conn *c)
{
	/* one non-blocking close_notify; we do not wait for the peer's */
	struct pipe_guard g;
	ERR_clear_error();
	pipe_block(&g);
	SSL_shutdown(c->ssl);
	pipe_restore(&g);
	ERR_clear_error();
	SSL_free(c->ssl);
	c->ssl = NULL;
}
