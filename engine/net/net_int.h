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

#include "engine/util/err.h"

struct ssl_st;  /* OpenSSL's SSL, kept opaque outside net_tls.c */

struct net_conn {
	int fd;
	char *host;             /* as given to open: TLS name check, messages */
	uint64_t timeout_ms;
	struct ssl_st *ssl;     /* NULL until TLS is started */
	char *rbuf;             /* read buffer: [rstart, rend) not consumed */
	size_t rstart, rend, rcap;
};

/* Waits until fd is ready for events (POLLIN/POLLOUT), at most the timeout. */
int net_conn_wait(struct net_conn *c, short events, const char *what, struct err *err);

/* TLS halves of read/write, in net_tls.c. Same contract as the plain ones:
 * read returns >0 bytes or -1 (a close is an error); write writes all. */
ssize_t net_tls_read(struct net_conn *c, char *buf, size_t len, struct err *err);
int net_tls_write(struct net_conn *c, const char *data, size_t len, struct err *err);
void net_tls_close(struct net_conn *c);

#endif
