/*
 * A tiny HTTP server for the daemon's /metrics and /healthz, on
 * libmicrohttpd (the only module that includes it, DESIGN.md's rule). GET
 * and HEAD only; the handler fills a body and picks the status.
 *
 * The server runs in libmicrohttpd's own thread: the handler is called from
 * there, so whatever it reads must be thread-safe (the metrics registry is).
 */
#ifndef M2T_HTTP_SERVER_H
#define M2T_HTTP_SERVER_H

#include "engine/util/buf.h"
#include "engine/util/err.h"

/* Body cap of one response. */
#define HTTP_BODY_MAX (32u * 1024 * 1024)

/*
 * path: the request's path ("/metrics"), query string cut off. Fills body
 * (a buf with cap HTTP_BODY_MAX) and *content_type (a static string);
 * returns the HTTP status (404 for unknown paths).
 */
typedef int (*http_handler)(void *ud, const char *path, struct buf *body,
			    const char **content_type);

struct http_server;

/*
 * Listens on host:port (an address or a name; the first address it resolves
 * to). ERR_FATAL when the address is bad or taken.
 */
int http_server_start(const char *host, unsigned port, http_handler handler, void *ud,
		      struct http_server **s_r, struct err *err);
/* Stops the thread and closes the socket; sets *s to NULL. */
void http_server_free(struct http_server **s);

#endif
