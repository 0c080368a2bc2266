/*
 * The HTTP server (http_server.h) on libmicrohttpd.
 *
 * SECURITY: requests come from the network. libmicrohttpd parses them;
 * this file looks at nothing but the method and the path. Limits: 16
 * connections at once, 10 s idle timeout, 16 KB of memory per connection
 * (request line and headers must fit), no request body is read. There is no
 * authentication: the endpoint shows job names and counts, never mail or
 * secrets; keep it on loopback or behind a proxy that authenticates.
 */
#include "engine/http/http_server.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "engine/util/log.h"
#include "engine/util/xalloc.h"

struct http_server {
	struct MHD_Daemon *mhd;
	http_handler handler;
	void *ud;
};

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct http_server *s = cls;
	(void)version;
	(void)upload_data;
	(void)con_cls;
	const char *type = "text/plain; charset=utf-8";
	struct buf body;
	int code;
	buf_init(&body, HTTP_BODY_MAX);
	if (*upload_data_size) {
		*upload_data_size = 0;  /* a body on GET is ignored */
		buf_release(&body);
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		code = MHD_HTTP_METHOD_NOT_ALLOWED;
		buf_adds(&body, "method not allowed\n");
	} else {
		code = s->handler(s->ud, url ? url : "/", &body, &type);
	}
	if (body.failed) {
		code = MHD_HTTP_INTERNAL_SERVER_ERROR;
		buf_reset(&body);
		body.failed = false;
		buf_adds(&body, "response too large\n");
	}
	size_t len;
	char *data = buf_detach(&body, &len);
	struct MHD_Response *r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)code, r);
	MHD_destroy_response(r);
	return ret;
}

int http_server_start(const char *host, unsigned port, http_handler handler, void *ud,
		      struct http_server **s_r, struct err *err)
{
	struct addrinfo hints = {0}, *ai = NULL;
	char service[8];
	*s_r = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%u", port);
	int gai = getaddrinfo(host, service, &hints, &ai);
	if (gai != 0 || !ai)
		return err_set(err, ERR_FATAL, "metrics_listen: cannot resolve \"%s\": %s", host,
			       gai_strerror(gai));
	struct http_server *s = xcalloc(1, sizeof(*s));
	s->handler = handler;
	s->ud = ud;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->mhd = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, answer, s,
				  MHD_OPTION_SOCK_ADDR, ai->ai_addr,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024),
				  MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!s->mhd) {
		free(s);
		return err_set(err, ERR_FATAL, "metrics_listen: cannot listen on %s:%u (in use, or not "
			       "an address of this machine)", host, port);
	}
	log_info("http.listening", "host=%s port=%u", host, port);
	*s_r = s;
	return 0;
}

void http_server_free(struct http_server **sp)
{
	struct http_server *s = *sp;
	if (!s)
		return;
	MHD_stop_daemon(s->mhd);
	free(s);
	*sp = NULL;
}
