/*
 * SECURITY: the proxy is untrusted like the server behind it. Its replies
 * go through the I/O-free parsers of proxy_parse.c (limits, no allocation
 * by a size it sends), every wait is bounded by the connection's timeout
 * and the whole handshake by the connect timeout. The proxy password is
 * written once, from a buffer that is wiped, and never logged; messages
 * quote the proxy's reason phrase only cleaned and cut.
 *
 * The tunnel handshakes: SOCKS5 (RFC 1928) with
 * user/password authentication (RFC 1929) and the destination sent as a
 * name (ATYP 3, "remote DNS": the proxy resolves it, so names that only
 * the proxy's network knows work and no DNS query leaves this machine),
 * and HTTP CONNECT (RFC 9110 9.3.6) with Basic credentials (RFC 7617).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/net/net.h"
#include "engine/net/net_int.h"
#include "engine/net/proxy_parse.h"
#include "engine/util/base64.h"
#include "engine/util/buf.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

/* Writes b (which may hold the proxy password), then wipes it. */
static int send_wipe(struct net_conn *c, struct buf *b, struct err *err)
{
	int rc = b->failed ? err_set(err, ERR_FATAL, "proxy request too long")
			   : net_conn_write(c, b->data, b->len, err);
	if (b->data)
		explicit_bzero(b->data, b->cap);
	buf_release(b);
	return rc;
}

/* Reads one reply of the given kind; bytes after it stay buffered in c. */
static int read_reply(struct net_conn *c, enum proxy_reply_kind kind, struct proxy_reply *r,
		      struct err *err)
{
	struct proxy_parser *p = proxy_parser_new(kind, NULL);
	int rc;
	for (;;) {
		const char *data;
		size_t len, used;
		if (net_conn_peek(c, &data, &len, err) < 0) {
			rc = -1;
			break;
		}
		rc = proxy_parser_feed(p, data, len, &used, err);
		net_conn_consume(c, used);
		if (rc != 0)
			break;
	}
	if (rc > 0)
		*r = *proxy_parser_reply(p);
	proxy_parser_free(&p);
	return rc > 0 ? 0 : -1;
}

static const char *socks_rep_text(unsigned rep)
{
	switch (rep) {
	case 1: return "general SOCKS server failure";
	case 2: return "connection not allowed by the proxy's rules";
	case 3: return "network unreachable";
	case 4: return "host unreachable (or its name unknown to the proxy)";
	case 5: return "connection refused";
	case 6: return "TTL expired";
	case 7: return "command not supported";
	case 8: return "address type not supported";
	}
	return "unknown error";
}

static int socks5_auth(struct net_conn *c, const struct proxy_settings *px, struct err *err)
{
	struct buf b;
	struct proxy_reply r;
	size_t ulen = strlen(px->username), plen = strlen(px->password);
	if (ulen == 0 || ulen > 255 || plen == 0 || plen > 255)
		return err_set(err, ERR_FATAL, "SOCKS5 user name and password must be 1 to 255 "
			       "bytes");
	buf_init(&b, 600);
	buf_addc(&b, 1);
	buf_addc(&b, (char)ulen);
	buf_add(&b, px->username, ulen);
	buf_addc(&b, (char)plen);
	buf_add(&b, px->password, plen);
	if (send_wipe(c, &b, err) < 0 || read_reply(c, PROXY_REPLY_SOCKS5_AUTH, &r, err) < 0)
		return -1;
	if (r.code != 0)
		return err_set(err, ERR_SOURCE, "the SOCKS5 proxy refused the user name \"%s\" "
			       "or its password (status %u)", px->username, r.code);
	return 0;
}

static int socks5(struct net_conn *c, const struct proxy_settings *px, const char *host,
		  unsigned port, struct err *err)
{
	struct proxy_reply r;
	struct buf b;
	bool creds = px->username != NULL;
	/* no authentication, and user/password when we have them */
	if (net_conn_write(c, creds ? "\x05\x02\x00\x02" : "\x05\x01\x00", creds ? 4 : 3,
			   err) < 0 ||
	    read_reply(c, PROXY_REPLY_SOCKS5_METHOD, &r, err) < 0)
		return -1;
	if (r.code == 0xff)
		return err_set(err, ERR_SOURCE, "the SOCKS5 proxy accepts none of our "
			       "authentication methods (%s)", creds ? "none, user/password"
								     : "none; does it need a user name "
								       "and password?");
	if (r.code == 2 && creds) {
		if (socks5_auth(c, px, err) < 0)
			return -1;
	} else if (r.code != 0) {
		return err_set(err, ERR_SOURCE, "the SOCKS5 proxy chose authentication method %u, "
			       "which we did not offer", r.code);
	}
	unsigned char addr[16];
	size_t hlen = strlen(host);
	buf_init(&b, 300);
	buf_add(&b, "\x05\x01\x00", 3);
	if (inet_pton(AF_INET, host, addr) == 1) {
		buf_addc(&b, 1);
		buf_add(&b, addr, 4);
	} else if (inet_pton(AF_INET6, host, addr) == 1) {
		buf_addc(&b, 4);
		buf_add(&b, addr, 16);
	} else {
		if (hlen > 255) {
			buf_release(&b);
			return err_set(err, ERR_FATAL, "host name longer than 255 bytes: SOCKS5 "
				       "cannot carry it");
		}
		/* the name itself: the proxy resolves it */
		buf_addc(&b, 3);
		buf_addc(&b, (char)hlen);
		buf_add(&b, host, hlen);
	}
	buf_addc(&b, (char)(port >> 8));
	buf_addc(&b, (char)(port & 0xff));
	if (send_wipe(c, &b, err) < 0 || read_reply(c, PROXY_REPLY_SOCKS5_CONNECT, &r, err) < 0)
		return -1;
	if (r.code != 0)
		return err_set(err, r.code == 2 || r.code == 7 || r.code == 8 ? ERR_SOURCE
									    : ERR_TRANSIENT,
			       "the SOCKS5 proxy could not reach %s port %u: %s (reply %u)", host,
			       port, socks_rep_text(r.code), r.code);
	log_debug("net.proxy", "kind=socks5 host=%s port=%u bound=\"%s\"", host, port, r.bound);
	return 0;
}

static int http_connect(struct net_conn *c, const struct proxy_settings *px, const char *host,
			unsigned port, struct err *err)
{
	struct proxy_reply r;
	struct buf b;
	unsigned char a6[16];
	bool v6 = inet_pton(AF_INET6, host, a6) == 1;
	buf_init(&b, 4096);
	buf_addf(&b, "CONNECT %s%s%s:%u HTTP/1.1\r\nHost: %s%s%s:%u\r\n", v6 ? "[" : "", host,
		 v6 ? "]" : "", port, v6 ? "[" : "", host, v6 ? "]" : "", port);
	if (px->username) {
		struct buf cred;
		buf_init(&cred, 600);
		buf_addf(&cred, "%s:%s", px->username, px->password);
		char *b64 = xmalloc(base64_encoded_size(cred.len));
		base64_encode(cred.data, cred.len, b64);
		buf_addf(&b, "Proxy-Authorization: Basic %s\r\n", b64);
		explicit_bzero(b64, strlen(b64));
		free(b64);
		explicit_bzero(cred.data, cred.cap);
		buf_release(&cred);
	}
	buf_adds(&b, "User-Agent: mail2ticket\r\n\r\n");
	if (send_wipe(c, &b, err) < 0 || read_reply(c, PROXY_REPLY_HTTP_CONNECT, &r, err) < 0)
		return -1;
	if (r.code >= 200 && r.code <= 299)
		return 0;
	const char *why = r.code == 407 ? (px->username ? ": it refused the user name or "
					   "password" : ": it needs a user name and password")
			: r.code == 403 ? ": the proxy's rules forbid this destination" : "";
	return err_set(err, r.code >= 500 ? ERR_TRANSIENT : ERR_SOURCE,
		       "the HTTP proxy answered CONNECT %s:%u with %u %s%s", host, port, r.code,
		       r.reason, why);
}

int net_proxy_handshake(struct net_conn *c, const struct proxy_settings *px,
			const char *host, unsigned port, struct err *err)
{
	int rc = px->kind == PROXY_SOCKS5 ? socks5(c, px, host, port, err)
					  : http_connect(c, px, host, port, err);
	if (rc < 0)
		return err_prefix(err, "%s proxy %s port %u", config_proxy_kind_name(px->kind),
				  px->host, px->port);
	snprintf(c->proxy, sizeof(c->proxy), "%s proxy %s (%s) port %u%s%s",
		 config_proxy_kind_name(px->kind), px->host, c->peer, px->port,
		 px->username ? " as " : "", px->username ? px->username : "");
	return 0;
}
