/*
 * Private to engine/net: the connection struct shared by the TCP side
 * (net_conn.c, no OpenSSL) and the TLS side (net_tls.c).
 */
#ifndef M2T_NET_INT_H
#define M2T_NET_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine/config/config.h"
#include "engine/util/err.h"

struct ssl_st;  /* OpenSSL's SSL, kept opaque outside the net_tls*.c files */
struct ssl_ctx_st;

/* One shared TLS context and the settings it was made from (its key). */
struct net_tls {
	struct ssl_ctx_st *ctx;
	bool verify;
	int min_version, max_version;   /* 10..13, 0 = default */
	char *ca_file, *ca_path, *server_name, *ciphers, *ciphersuites;
	unsigned char pins[TLS_MAX_PINS][32];
	size_t npins;
	unsigned refs;                  /* under the registry's lock */
	struct net_tls *next;
};

struct net_tls_info;

struct net_conn {
	int fd;
	char *host;             /* as given to open: TLS name check, messages */
	char peer[64];          /* numeric address connected to */
	uint64_t timeout_ms;
	uint64_t session_ms;    /* the session bound, for messages; 0 = none */
	uint64_t deadline_ms;   /* monotonic end of the session; 0 = none */
	uint64_t step_deadline_ms;  /* end of the proxy handshake; 0 = none */
	uint64_t step_ms;       /* its length, for messages */
	char proxy[192];        /* "socks5 proxy 127.0.0.1 port 1080 as m2t"; "" direct */
	struct net_tls_info *tinfo;  /* from the last handshake; NULL before */
	struct ssl_st *ssl;     /* NULL until TLS is started */
	char *rbuf;             /* read buffer: [rstart, rend) not consumed */
	size_t rstart, rend, rcap;
};

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t net_now_ms(void);

/* On a fresh connection to the proxy: asks it for a tunnel to host:port
 * and fills c->proxy. Bytes after the proxy's reply stay buffered. */
int net_proxy_handshake(struct net_conn *c, const struct proxy_settings *px,
			const char *host, unsigned port, struct err *err);

/* Waits until fd is ready for events (POLLIN/POLLOUT), at most the timeout. */
int net_conn_wait(struct net_conn *c, short events, const char *what, struct err *err);

/* TLS halves of read/write, in net_tls.c. Same contract as the plain ones:
 * read returns >0 bytes or -1 (a close is an error); write writes all. */
ssize_t net_tls_read(struct net_conn *c, char *buf, size_t len, struct err *err);
int net_tls_write(struct net_conn *c, const char *data, size_t len, struct err *err);
/* One SSL_read without waiting: >0 bytes, 0 when it would have to wait, -1 error. */
ssize_t net_tls_read_nowait(struct net_conn *c, char *buf, size_t len, struct err *err);
void net_tls_close(struct net_conn *c);

/* net_tls_cert.c: after a handshake (done or failed), fills c->tinfo from
 * the server's certificate; vr is OpenSSL's verify result, name the name
 * checked. */
void net_tls_info_fill(struct net_conn *c, const struct net_tls *t, const char *name, long vr);
/* The server's key against t's pins (none: 0). Mismatch: ERR_SOURCE. */
int net_tls_pin_check(struct net_conn *c, const struct net_tls *t, struct err *err);

#endif
