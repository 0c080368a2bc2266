/*
 * SECURITY: the peer is untrusted. Reads never wait longer than the
 * timeout, a line is capped before it is complete, and read_exact never
 * allocates the size it was asked for (it streams or fills a capped buf).
 *
 * TCP connections: non-blocking sockets from the start, every wait through
 * poll() with the connection's timeout, so a stalled server costs at most
 * one timeout per call. SIGPIPE: plain writes use MSG_NOSIGNAL; TLS writes
 * go through OpenSSL's socket BIO, so the program must ignore SIGPIPE.
 */
#include "engine/net/net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine/net/net_int.h"
#include "engine/util/log.h"
#include "engine/util/str.h"
#include "engine/util/waitmark.h"
#include "engine/util/xalloc.h"

#define NET_DEFAULT_TIMEOUT_MS 30000
#define NET_RBUF_SIZE (64 * 1024)

uint64_t net_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int poll_timeout(uint64_t ms)
{
	return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

int net_conn_wait(struct net_conn *c, short events, const char *what, struct err *err)
{
	uint64_t deadline = net_now_ms() + c->timeout_ms;
	bool session_bound = c->deadline_ms && c->deadline_ms < deadline;
	if (session_bound)
		deadline = c->deadline_ms;
	bool step_bound = c->step_deadline_ms && c->step_deadline_ms < deadline;
	if (step_bound) {
		deadline = c->step_deadline_ms;
		session_bound = false;
	}
	for (;;) {
		uint64_t now = net_now_ms();
		uint64_t left = now >= deadline ? 0 : deadline - now;
		struct pollfd pfd = {.fd = c->fd, .events = events};
		/* the server's turn: a supervisor may see this thread as waiting */
		waitmark_begin();
		int r = poll(&pfd, 1, poll_timeout(left));
		waitmark_end();
		if (r > 0)
			return 0;  /* errors and hangups show up in the I/O call */
		if (r == 0 && step_bound)
			return err_set(err, ERR_TRANSIENT, "timed out after %llu ms %s %s through "
				       "the proxy (connect_timeout)",
				       (unsigned long long)c->step_ms, what, c->host);
		if (r == 0 && session_bound)
			return err_set(err, ERR_TRANSIENT, "session time limit of %llu ms reached "
				       "%s %s (session_timeout)",
				       (unsigned long long)c->session_ms, what, c->host);
		if (r == 0)
			return err_set(err, ERR_TRANSIENT, "timed out after %llu ms %s %s",
				       (unsigned long long)c->timeout_ms, what, c->host);
		if (errno != EINTR)
			return err_set(err, ERR_TRANSIENT, "poll: %s", strerror(errno));
	}
}

static int connect_one(const struct addrinfo *ai, uint64_t timeout_ms, int *fd_r,
		       char *why, size_t whylen)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			ai->ai_protocol);
	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS && errno != EINTR) {
			snprintf(why, whylen, "%s", strerror(errno));
			goto fail;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		uint64_t deadline = net_now_ms() + timeout_ms;
		int r;
		for (;;) {
			uint64_t now = net_now_ms();
			waitmark_begin();
			r = poll(&pfd, 1, poll_timeout(now >= deadline ? 0 : deadline - now));
			waitmark_end();
			if (r >= 0 || errno != EINTR)
				break;
		}
		if (r == 0) {
			snprintf(why, whylen, "timed out after %llu ms",
				 (unsigned long long)timeout_ms);
			goto fail;
		}
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
			snprintf(why, whylen, "%s", strerror(r < 0 ? errno : soerr ? soerr : EIO));
			goto fail;
		}
	}
	int one = 1;
	/* Commands are small and answered one at a time: no Nagle delay. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*fd_r = fd;
	return 0;
fail:
	close(fd);
	return -1;
}

/* Resolves host and connects to its addresses in turn. why names what
 * failed; *fd_r and peer are set on success. */
static int tcp_connect(const char *host, unsigned port, uint64_t timeout_ms, int *fd_r,
		       char *peer, size_t peerlen, char *why, size_t whylen)
{
	char portstr[8];
	snprintf(portstr, sizeof(portstr), "%u", port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	/* a name server can stall as a mail server can */
	waitmark_begin();
	int gr = getaddrinfo(host, portstr, &hints, &res);
	waitmark_end();
	if (gr != 0) {
		snprintf(why, whylen, "cannot resolve \"%s\": %s", host, gai_strerror(gr));
		return -1;
	}
	snprintf(why, whylen, "no address");
	int fd = -1;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (connect_one(ai, timeout_ms, &fd, why, whylen) == 0) {
			if (getnameinfo(ai->ai_addr, ai->ai_addrlen, peer, (socklen_t)peerlen, NULL,
					0, NI_NUMERICHOST) != 0)
				snprintf(peer, peerlen, "?");
			break;
		}
	}
	freeaddrinfo(res);
	*fd_r = fd;
	return fd < 0 ? -1 : 0;
}

int net_conn_open(const char *host, unsigned port, const struct proxy_settings *proxy,
		  uint64_t timeout_ms, struct net_conn **conn_r, struct err *err)
{
	*conn_r = NULL;
	if (!host || !*host || port == 0 || port > 65535)
		return err_set(err, ERR_FATAL, "bad address \"%s\" port %u", host ? host : "",
			       port);
	if (timeout_ms == 0)
		timeout_ms = NET_DEFAULT_TIMEOUT_MS;
	/* the account's proxy, if any, carries the connection (net_proxy.c) */
	bool via = proxy && proxy->kind != PROXY_NONE && proxy->host;
	const struct proxy_settings *px = proxy;
	char why[300], peer[64] = "";
	int fd = -1;
	if (tcp_connect(via ? px->host : host, via ? px->port : port, timeout_ms, &fd, peer,
			sizeof(peer), why, sizeof(why)) < 0) {
		if (via) {
			err_set(err, ERR_TRANSIENT, "cannot connect to %s proxy \"%s\" port %u "
				"(for %s port %u): %s", config_proxy_kind_name(px->kind), px->host,
				px->port, host, port, why);
			return -1;
		}
		if (str_has_prefix(why, "cannot resolve"))
			return err_set(err, ERR_TRANSIENT, "%s", why);
		return err_set(err, ERR_TRANSIENT, "cannot connect to \"%s\" port %u: %s", host,
			       port, why);
	}
	struct net_conn *c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->host = xstrdup(host);
	memcpy(c->peer, peer, sizeof(c->peer));
	c->timeout_ms = timeout_ms;
	c->rcap = NET_RBUF_SIZE;
	c->rbuf = xmalloc(c->rcap + 1);
	if (via) {
		/* the whole handshake, not each wait, is held to the connect timeout */
		c->step_deadline_ms = net_now_ms() + timeout_ms;
		c->step_ms = timeout_ms;
		int r = net_proxy_handshake(c, px, host, port, err);
		c->step_deadline_ms = 0;
		if (r < 0) {
			net_conn_free(&c);
			return -1;
		}
	}
	*conn_r = c;
	log_debug("net.connect", "host=%s address=%s port=%u%s%s", host, peer, port,
		  c->proxy[0] ? " proxy=" : "", c->proxy);
	return 0;
}

const char *net_conn_proxy(const struct net_conn *c)
{
	return c->proxy;
}

void net_conn_free(struct net_conn **cp)
{
	struct net_conn *c = *cp;
	if (!c)
		return;
	if (c->ssl)
		net_tls_close(c);
	if (c->fd >= 0)
		close(c->fd);
	free(c->host);
	free(c->tinfo);
	free(c->rbuf);
	free(c);
	*cp = NULL;
}

void net_conn_set_timeout(struct net_conn *c, uint64_t timeout_ms)
{
	c->timeout_ms = timeout_ms ? timeout_ms : NET_DEFAULT_TIMEOUT_MS;
}

void net_conn_set_session_limit(struct net_conn *c, uint64_t ms)
{
	c->session_ms = ms;
	c->deadline_ms = ms ? net_now_ms() + ms : 0;
}

const char *net_conn_peer(const struct net_conn *c)
{
	return c->peer;
}

const struct net_tls_info *net_conn_tls_info(const struct net_conn *c)
{
	return c->tinfo;
}

bool net_conn_is_tls(const struct net_conn *c)
{
	return c->ssl != NULL;
}

static ssize_t plain_read(struct net_conn *c, char *buf, size_t len, struct err *err)
{
	for (;;) {
		ssize_t n = recv(c->fd, buf, len, 0);
		if (n > 0)
			return n;
		if (n == 0)
			return err_set(err, ERR_TRANSIENT, "connection closed by %s", c->host);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return err_set(err, ERR_TRANSIENT, "read from %s: %s", c->host,
				       strerror(errno));
		if (net_conn_wait(c, POLLIN, "reading from", err) < 0)
			return -1;
	}
}

int net_conn_write(struct net_conn *c, const void *data, size_t len, struct err *err)
{
	if (c->ssl)
		return net_tls_write(c, data, len, err);
	const char *p = data;
	while (len) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (net_conn_wait(c, POLLOUT, "writing to", err) < 0)
				return -1;
			continue;
		}
		return err_set(err, ERR_TRANSIENT, "write to %s: %s", c->host,
			       n < 0 ? strerror(errno) : "no progress");
	}
	return 0;
}

/* Reads at least one byte more into rbuf, growing it up to `want` bytes of
 * unconsumed data when it is full. */
static int fill(struct net_conn *c, size_t want, struct err *err)
{
	if (c->rstart == c->rend) {
		c->rstart = c->rend = 0;
	} else if (c->rend == c->rcap && c->rstart > 0) {
		memmove(c->rbuf, c->rbuf + c->rstart, c->rend - c->rstart);
		c->rend -= c->rstart;
		c->rstart = 0;
	}
	if (c->rend == c->rcap) {
		if (c->rcap >= want)
			return err_set(err, ERR_FATAL, "read buffer full (bug)");
		size_t ncap = c->rcap * 2 < want ? want : c->rcap * 2;
		c->rbuf = xreallocarray(c->rbuf, ncap + 1, 1);
		c->rcap = ncap;
	}
	ssize_t n = c->ssl ? net_tls_read(c, c->rbuf + c->rend, c->rcap - c->rend, err)
			   : plain_read(c, c->rbuf + c->rend, c->rcap - c->rend, err);
	if (n < 0)
		return -1;
	c->rend += (size_t)n;
	return 0;
}

int net_conn_peek(struct net_conn *c, const char **p_r, size_t *len_r, struct err *err)
{
	if (c->rstart == c->rend && fill(c, c->rcap, err) < 0)
		return -1;
	*p_r = c->rbuf + c->rstart;
	*len_r = c->rend - c->rstart;
	return 0;
}

void net_conn_consume(struct net_conn *c, size_t n)
{
	size_t have = c->rend - c->rstart;
	c->rstart += n < have ? n : have;
}

size_t net_conn_buffered(const struct net_conn *c)
{
	return c->rend - c->rstart;
}

int net_conn_fd(const struct net_conn *c)
{
	return c->fd;
}

int net_conn_read_nowait(struct net_conn *c, struct err *err)
{
	if (c->rstart == c->rend) {
		c->rstart = c->rend = 0;
	} else if (c->rend == c->rcap && c->rstart > 0) {
		memmove(c->rbuf, c->rbuf + c->rstart, c->rend - c->rstart);
		c->rend -= c->rstart;
		c->rstart = 0;
	}
	if (c->rend == c->rcap)
		return 0;  /* full: the caller consumes first */
	ssize_t n;
	if (c->ssl) {
		n = net_tls_read_nowait(c, c->rbuf + c->rend, c->rcap - c->rend, err);
	} else {
		for (;;) {
			n = recv(c->fd, c->rbuf + c->rend, c->rcap - c->rend, 0);
			if (n >= 0 || errno != EINTR)
				break;
		}
		if (n == 0)
			return err_set(err, ERR_TRANSIENT, "connection closed by %s", c->host);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return err_set(err, ERR_TRANSIENT, "read from %s: %s", c->host,
				       strerror(errno));
	}
	if (n <= 0)
		return (int)n;
	c->rend += (size_t)n;
	return 1;
}

int net_conn_read_line(struct net_conn *c, size_t max, const char **line_r, size_t *len_r,
		       struct err *err)
{
	size_t scanned = 0;
	/* room for max bytes plus CRLF */
	size_t want = max > ((size_t)-1) / 2 ? ((size_t)-1) / 2 : max + 2;
	for (;;) {
		size_t have = c->rend - c->rstart;
		char *start = c->rbuf + c->rstart;
		char *nl = memchr(start + scanned, '\n', have - scanned);
		if (nl) {
			size_t len = (size_t)(nl - start);
			c->rstart += len + 1;
			if (len && start[len - 1] == '\r')
				len--;
			if (len > max)
				return err_set(err, ERR_SOURCE, "line from %s longer than %zu bytes",
					       c->host, max);
			start[len] = '\0';
			*line_r = start;
			*len_r = len;
			return 0;
		}
		scanned = have;
		if (have >= want)
			return err_set(err, ERR_SOURCE, "line from %s longer than %zu bytes",
				       c->host, max);
		if (fill(c, want, err) < 0)
			return -1;
	}
}

int net_conn_read_exact(struct net_conn *c, uint64_t n, net_data_cb cb, void *ud,
			struct err *err)
{
	while (n) {
		const char *p;
		size_t len;
		if (net_conn_peek(c, &p, &len, err) < 0)
			return -1;
		if ((uint64_t)len > n)
			len = (size_t)n;
		int r = cb(ud, p, len, err);
		net_conn_consume(c, len);
		if (r < 0)
			return -1;
		n -= len;
	}
	return 0;
}

static int add_to_buf(void *ud, const char *data, size_t len, struct err *err)
{
	struct buf *b = ud;
	if (buf_add(b, data, len) < 0)
		return err_set(err, ERR_MESSAGE, "data larger than %zu bytes", b->max);
	return 0;
}

int net_conn_read_exact_buf(struct net_conn *c, uint64_t n, struct buf *out, struct err *err)
{
	if (n > (uint64_t)out->max || (size_t)n > out->max - out->len)
		return err_set(err, ERR_MESSAGE, "data of %llu bytes larger than %zu bytes",
			       (unsigned long long)n, out->max);
	return net_conn_read_exact(c, n, add_to_buf, out, err);
}
