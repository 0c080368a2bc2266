/*
 * Proxies: the reply parsers (whole, in pieces, one byte at a time, and
 * hostile replies), and net_conn_open through scripted SOCKS5 and HTTP
 * proxies: what goes on the wire (names for remote DNS, credentials),
 * bytes after the reply reaching the client, refusals, truncated, garbage
 * and huge replies, stalls held to the connect timeout.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/net/net.h"
#include "engine/net/proxy_parse.h"
#include "engine/util/base64.h"
#include "engine/util/log.h"
#include "tests/unit/script_server.h"
#include "tests/unit/test.h"

/* Feeds s in pieces of `step` bytes; returns the parser's last result and
 * the bytes it took in *used_r. */
static int feed_steps(enum proxy_reply_kind kind, const char *s, size_t len, size_t step,
		      size_t *used_r, struct proxy_reply *r, struct err *err)
{
	struct proxy_parser *p = proxy_parser_new(kind, NULL);
	size_t off = 0;
	int rc = 0;
	*used_r = 0;
	while (off < len) {
		size_t n = len - off < step ? len - off : step, used = 0;
		rc = proxy_parser_feed(p, s + off, n, &used, err);
		off += used;
		*used_r = off;
		if (rc != 0)
			break;
	}
	if (rc == 1)
		*r = *proxy_parser_reply(p);
	proxy_parser_free(&p);
	return rc;
}

TEST(socks5_replies_in_every_split)
{
	static const char conn_v4[] = "\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x38" "TUNNEL";
	static const char conn_dom[] = "\x05\x00\x00\x03\x04host\x00\x19";
	static const char conn_v6[] = "\x05\x05\x00\x04" "0123456789abcdef" "\x00\x01";
	for (size_t step = 1; step <= 8; step++) {
		struct proxy_reply r;
		struct err err = {0};
		size_t used;
		CHECK_INT(feed_steps(PROXY_REPLY_SOCKS5_METHOD, "\x05\x02zz", 4, step, &used, &r,
				     &err), 1);
		CHECK_INT(used, 2);
		CHECK_INT(r.code, 2);
		CHECK_INT(feed_steps(PROXY_REPLY_SOCKS5_AUTH, "\x01\x00", 2, step, &used, &r, &err),
			  1);
		CHECK_INT(r.code, 0);
		CHECK_INT(feed_steps(PROXY_REPLY_SOCKS5_CONNECT, conn_v4, sizeof(conn_v4) - 1, step,
				     &used, &r, &err), 1);
		CHECK_INT(used, 10);    /* "TUNNEL" is the server's */
		CHECK_STR(r.bound, "127.0.0.1 port 1080");
		CHECK_INT(feed_steps(PROXY_REPLY_SOCKS5_CONNECT, conn_dom, sizeof(conn_dom) - 1, step,
				     &used, &r, &err), 1);
		CHECK_STR(r.bound, "host port 25");
		CHECK_INT(feed_steps(PROXY_REPLY_SOCKS5_CONNECT, conn_v6, sizeof(conn_v6) - 1, step,
				     &used, &r, &err), 1);
		CHECK_INT(r.code, 5);
		CHECK_INT(used, 22);
	}
}

TEST(socks5_hostile_replies)
{
	struct proxy_reply r;
	struct err err = {0};
	size_t used;
	/* an HTTP proxy answering a SOCKS greeting */
	CHECK_INT(feed_steps(PROXY_REPLY_SOCKS5_METHOD, "HTTP/1.0 400", 12, 1, &used, &r, &err), -1);
	CHECK(strstr(err.msg, "HTTP proxy") != NULL);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK_INT(feed_steps(PROXY_REPLY_SOCKS5_AUTH, "\x05\x00", 2, 1, &used, &r, &err), -1);
	CHECK_INT(feed_steps(PROXY_REPLY_SOCKS5_CONNECT, "\x05\x00\x00\x09\x00\x00", 6, 1, &used,
			     &r, &err), -1);
	CHECK(strstr(err.msg, "address type") != NULL);
	CHECK_INT(feed_steps(PROXY_REPLY_SOCKS5_CONNECT, "\x05\x00\x00\x03\x00\x00\x00", 7, 1,
			     &used, &r, &err), -1);
	/* truncated: needs more, never done */
	CHECK_INT(feed_steps(PROXY_REPLY_SOCKS5_CONNECT, "\x05\x00\x00\x03\xff" "abc", 8, 3, &used,
			     &r, &err), 0);
	CHECK_INT(used, 8);
	/* control characters in a bound name are cleaned */
	CHECK_INT(feed_steps(PROXY_REPLY_SOCKS5_CONNECT, "\x05\x00\x00\x03\x02\x1b\n\x00\x01", 9,
			     1, &used, &r, &err), 1);
	CHECK(strchr(r.bound, '\x1b') == NULL && strchr(r.bound, '\n') == NULL);
}

TEST(http_head_in_every_split)
{
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n"
				 "Proxy-Agent: test\r\nVia: x\r\n\r\n* OK greeting\r\n";
	static const char lf[] = "HTTP/1.0 407 Proxy Authentication Required\n"
				 "Proxy-Authenticate: Basic realm=\"x\"\n\nbody";
	for (size_t step = 1; step <= sizeof(ok); step++) {
		struct proxy_reply r;
		struct err err = {0};
		size_t used;
		CHECK_INT(feed_steps(PROXY_REPLY_HTTP_CONNECT, ok, sizeof(ok) - 1, step, &used, &r,
				     &err), 1);
		CHECK_INT(used, sizeof(ok) - 1 - strlen("* OK greeting\r\n"));
		CHECK_INT(r.code, 200);
		CHECK_INT(r.version, 1);
		CHECK_STR(r.reason, "Connection established");
		CHECK_INT(feed_steps(PROXY_REPLY_HTTP_CONNECT, lf, sizeof(lf) - 1, step, &used, &r,
				     &err), 1);
		CHECK_INT(used, sizeof(lf) - 1 - 4);
		CHECK_INT(r.code, 407);
	}
}

TEST(http_hostile_heads)
{
	struct proxy_reply r;
	struct err err = {0};
	size_t used;
	static const char *const bad[] = {
		"SSH-2.0-OpenSSH\r\n\r\n", "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 20x OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 099 x\r\n\r\n", "HTTP/1.1\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(feed_steps(PROXY_REPLY_HTTP_CONNECT, bad[i], strlen(bad[i]), 1, &used, &r,
				     &err), -1);
		CHECK_INT(err.cls, ERR_SOURCE);
	}
	/* NUL, a long line, too many lines, a huge head: refused before their end */
	CHECK_INT(feed_steps(PROXY_REPLY_HTTP_CONNECT, "HTTP/1.1 200 O\0K\r\n\r\n", 20, 1, &used,
			     &r, &err), -1);
	size_t big = 200 * 1024;
	char *s = malloc(big);
	memcpy(s, "HTTP/1.1 200 OK\r\nX: ", 20);
	memset(s + 20, 'a', big - 20);
	CHECK_INT(feed_steps(PROXY_REPLY_HTTP_CONNECT, s, big, 4096, &used, &r, &err), -1);
	CHECK(strstr(err.msg, "too long") != NULL);
	CHECK(used <= 8 * 1024 + 64);
	size_t n = 17;
	memcpy(s, "HTTP/1.1 200 OK\r\n", 17);
	while (n + 4 < big) {
		memcpy(s + n, "X:\r\n", 4);
		n += 4;
	}
	CHECK_INT(feed_steps(PROXY_REPLY_HTTP_CONNECT, s, n, 100, &used, &r, &err), -1);
	CHECK(strstr(err.msg, "too many") != NULL);
	CHECK(used < 1024);
	/* long, but within the line limit: the head limit stops it */
	n = 17;
	while (n + 1002 < big) {
		memset(s + n, 'h', 1000);
		memcpy(s + n + 1000, "\r\n", 2);
		n += 1002;
	}
	struct proxy_parse_limits lim = {.max_lines = 100000};
	struct proxy_parser *p = proxy_parser_new(PROXY_REPLY_HTTP_CONNECT, &lim);
	CHECK_INT(proxy_parser_feed(p, s, n, &used, &err), -1);
	CHECK(strstr(err.msg, "head too long") != NULL);
	CHECK(used <= 64 * 1024 + 1);
	/* no feeding after the end */
	CHECK_INT(proxy_parser_feed(p, "x", 1, &used, &err), -1);
	proxy_parser_free(&p);
	free(s);
	/* reason phrase cleaned */
	CHECK_INT(feed_steps(PROXY_REPLY_HTTP_CONNECT, "HTTP/1.1 502 Bad\x1b[31m gw\r\n\r\n", 28, 1,
			     &used, &r, &err), 1);
	CHECK(strchr(r.reason, '\x1b') == NULL);
}

static char g_proxy_host[] = "127.0.0.1";

static struct proxy_settings proxy(enum proxy_kind kind, unsigned port, const char *user,
				   const char *pass)
{
	static char u[64], pw[64];
	snprintf(u, sizeof(u), "%s", user ? user : "");
	snprintf(pw, sizeof(pw), "%s", pass ? pass : "");
	struct proxy_settings p = {.kind = kind, .host = g_proxy_host, .port = port,
				   .username = user ? u : NULL, .password = pass ? pw : NULL};
	return p;
}

/* Opens a connection to host:port through the scripted proxy s. */
static int open_via(struct server *s, enum proxy_kind kind, const char *user, const char *pass,
		    const char *host, unsigned port, uint64_t timeout_ms, struct net_conn **c_r,
		    struct err *err)
{
	struct proxy_settings px = proxy(kind, s->port, user, pass);
	return net_conn_open(host, port, &px, timeout_ms, c_r, err);
}

TEST(socks5_remote_dns_and_tunnel_bytes)
{
	struct server s;
	static const struct step steps[] = {
		EXPECT_BYTES("\x05\x01\x00"),
		SEND("\x05\x00"),
		/* the name itself, for the proxy to resolve; port 993 */
		EXPECT_BYTES("\x05\x01\x00\x03\x10imap.example.com\x03\xe1"),
		SEND("\x05\x00\x00\x01\x0a\x00\x00\x01\x9c\x40* OK through the tunnel\r\n"),
		EXPECT("A1 LOGOUT"),
		END,
	};
	server_start(&s, steps);
	struct net_conn *c = NULL;
	struct err err = {0};
	CHECK_INT(open_via(&s, PROXY_SOCKS5, NULL, NULL, "imap.example.com", 993, 5000, &c, &err),
		  0);
	if (c) {
		const char *line;
		size_t len;
		CHECK_INT(net_conn_read_line(c, 1000, &line, &len, &err), 0);
		CHECK_STR(line, "* OK through the tunnel");
		CHECK(strstr(net_conn_proxy(c), "socks5 proxy 127.0.0.1") != NULL);
		CHECK_STR(net_conn_peer(c), "127.0.0.1");
		CHECK_INT(net_conn_write(c, "A1 LOGOUT\r\n", 11, &err), 0);
		net_conn_free(&c);
	}
	server_join(&s, NULL);
}

TEST(socks5_user_password_and_ip_destinations)
{
	struct server s;
	static const struct step steps[] = {
		EXPECT_BYTES("\x05\x02\x00\x02"),
		SEND("\x05\x02"),
		EXPECT_BYTES("\x01\x03m2t\x06s3cr3t"),
		SEND("\x01\x00"),
		EXPECT_BYTES("\x05\x01\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
			     "\x00\x00\x01\x00\x8f"),
		SEND("\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00"),
		END,
	};
	server_start(&s, steps);
	struct net_conn *c = NULL;
	struct err err = {0};
	CHECK_INT(open_via(&s, PROXY_SOCKS5, "m2t", "s3cr3t", "::1", 143, 5000, &c, &err), 0);
	CHECK(c && strstr(net_conn_proxy(c), "as m2t") != NULL);
	net_conn_free(&c);
	server_join(&s, NULL);
}

TEST(socks5_refusals)
{
	struct {
		struct step steps[6];
		const char *user;
		enum err_class cls;
		const char *msg;
	} cases[] = {
		{{EXPECT_BYTES("\x05\x02\x00\x02"), SEND("\x05\x02"),
		  EXPECT_BYTES("\x01\x03m2t\x05pw-x9"), SEND("\x01\x01"), END},
		 "m2t", ERR_SOURCE, "refused the user name \"m2t\""},
		{{EXPECT_BYTES("\x05\x01\x00"), SEND("\x05\xff"), END},
		 NULL, ERR_SOURCE, "does it need a user name"},
		{{EXPECT_BYTES("\x05\x01\x00"), SEND("\x05\x02"), END},
		 NULL, ERR_SOURCE, "which we did not offer"},
		{{EXPECT_BYTES("\x05\x01\x00"), SEND("\x05\x00"),
		  EXPECT_BYTES("\x05\x01\x00\x03\x01h\x00\x8f"),
		  SEND("\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00"), END},
		 NULL, ERR_TRANSIENT, "connection refused (reply 5)"},
		{{EXPECT_BYTES("\x05\x01\x00"), SEND("\x05\x00"),
		  EXPECT_BYTES("\x05\x01\x00\x03\x01h\x00\x8f"),
		  SEND("\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00"), END},
		 NULL, ERR_SOURCE, "not allowed by the proxy's rules"},
		/* truncated reply, then the proxy hangs up */
		{{EXPECT_BYTES("\x05\x01\x00"), SEND("\x05\x00"),
		  EXPECT_BYTES("\x05\x01\x00\x03\x01h\x00\x8f"), SEND("\x05\x00\x00\x03\x20" "ab"),
		  CLOSE},
		 NULL, ERR_TRANSIENT, "connection closed"},
		/* garbage */
		{{EXPECT_BYTES("\x05\x01\x00"), SEND("\x04\x5a"), END},
		 NULL, ERR_SOURCE, "wrong SOCKS version"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct server s;
		server_start(&s, cases[i].steps);
		struct net_conn *c = NULL;
		struct err err = {0};
		CHECK_INT(open_via(&s, PROXY_SOCKS5, cases[i].user, cases[i].user ? "pw-x9" : NULL,
				   "h", 143, 5000, &c, &err), -1);
		CHECK(c == NULL);
		CHECK_INT(err.cls, cases[i].cls);
		if (!strstr(err.msg, cases[i].msg) || !strstr(err.msg, "socks5 proxy 127.0.0.1")) {
			fprintf(stderr, "  case %zu: %s\n", i, err.msg);
			test_failed_now = 1;
		}
		CHECK(strstr(err.msg, "pw-x9") == NULL);   /* the password */
		server_join(&s, NULL);
	}
}

TEST(http_connect_with_basic_credentials)
{
	struct server s;
	static const struct step steps[] = {
		EXPECT("CONNECT imap.example.com:993 HTTP/1.1"),
		EXPECT("Host: imap.example.com:993"),
		/* base64("m2t:pa:ss") */
		EXPECT("Proxy-Authorization: Basic bTJ0OnBhOnNz"),
		EXPECT("User-Agent: mail2ticket"),
		EXPECT(""),
		SEND("HTTP/1.1 200 Connection established\r\n\r\n* OK hi\r\n"),
		END,
	};
	server_start(&s, steps);
	struct net_conn *c = NULL;
	struct err err = {0};
	CHECK_INT(open_via(&s, PROXY_HTTP, "m2t", "pa:ss", "imap.example.com", 993, 5000, &c, &err),
		  0);
	if (c) {
		const char *line;
		size_t len;
		CHECK_INT(net_conn_read_line(c, 1000, &line, &len, &err), 0);
		CHECK_STR(line, "* OK hi");
		CHECK(strstr(net_conn_proxy(c), "http proxy") != NULL);
		net_conn_free(&c);
	}
	server_join(&s, NULL);
}

TEST(http_connect_refusals)
{
	struct {
		struct step steps[8];
		enum err_class cls;
		const char *msg;
	} cases[] = {
		{{EXPECT_PREFIX("CONNECT "), EXPECT_PREFIX("Host: "), EXPECT_PREFIX("User-Agent"),
		  EXPECT(""), SEND("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"), END},
		 ERR_SOURCE, "407 Proxy Authentication Required: it needs a user name"},
		{{EXPECT_PREFIX("CONNECT "), EXPECT_PREFIX("Host: "), EXPECT_PREFIX("User-Agent"),
		  EXPECT(""), SEND("HTTP/1.0 403 Forbidden\r\n\r\n"), END},
		 ERR_SOURCE, "forbid this destination"},
		{{EXPECT_PREFIX("CONNECT "), EXPECT_PREFIX("Host: "), EXPECT_PREFIX("User-Agent"),
		  EXPECT(""), SEND("HTTP/1.1 503 Service Unavailable\r\n\r\n"), END},
		 ERR_TRANSIENT, "503"},
		{{EXPECT_PREFIX("CONNECT "), EXPECT_PREFIX("Host: "), EXPECT_PREFIX("User-Agent"),
		  EXPECT(""), SEND("HTTP/1.1 200 OK\r\nX: 1\r\n"), CLOSE},
		 ERR_TRANSIENT, "connection closed"},
		{{EXPECT_PREFIX("CONNECT "), EXPECT_PREFIX("Host: "), EXPECT_PREFIX("User-Agent"),
		  EXPECT(""), SEND("\x05\x01junk\r\n"), END},
		 ERR_SOURCE, "not an HTTP/1.x status line"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct server s;
		server_start(&s, cases[i].steps);
		struct net_conn *c = NULL;
		struct err err = {0};
		CHECK_INT(open_via(&s, PROXY_HTTP, NULL, NULL, "h", 143, 5000, &c, &err), -1);
		CHECK_INT(err.cls, cases[i].cls);
		if (!strstr(err.msg, cases[i].msg)) {
			fprintf(stderr, "  case %zu: %s\n", i, err.msg);
			test_failed_now = 1;
		}
		server_join(&s, NULL);
	}
}

/* A huge head: refused at the limit, long before the proxy is done sending. */
TEST(http_connect_huge_reply)
{
	size_t big = 4 * 1024 * 1024;
	char *junk = malloc(big + 1);
	memset(junk, 'x', big);
	memcpy(junk, "HTTP/1.1 200 OK\r\nX-Junk: ", 25);
	junk[big] = '\0';
	struct step steps[] = {
		EXPECT_PREFIX("CONNECT "), EXPECT_PREFIX("Host: "), EXPECT_PREFIX("User-Agent"),
		EXPECT(""), SEND_N(junk, big), END,
	};
	struct server s;
	server_start(&s, steps);
	struct net_conn *c = NULL;
	struct err err = {0};
	CHECK_INT(open_via(&s, PROXY_HTTP, NULL, NULL, "h", 143, 5000, &c, &err), -1);
	CHECK(strstr(err.msg, "line too long") != NULL);
	server_join(&s, NULL);
	free(junk);
}

/* A proxy that trickles its reply: the handshake as a whole gets the connect
 * timeout, even though each byte arrives well within it. */
TEST(trickling_proxy_is_held_to_the_connect_timeout)
{
	static const struct step steps[] = {
		EXPECT_BYTES("\x05\x01\x00"),
		SEND("\x05"), SLEEP(150), SEND("\x00"), SLEEP(150),
		EXPECT_BYTES("\x05\x01\x00\x03\x01h\x00\x8f"),
		SEND("\x05"), SLEEP(150), SEND("\x00"), SLEEP(150), SEND("\x00"), SLEEP(150),
		SEND("\x01"), SLEEP(150), SEND("\x00"), SLEEP(1500),
		END,
	};
	struct server s;
	server_start(&s, steps);
	struct net_conn *c = NULL;
	struct err err = {0};
	CHECK_INT(open_via(&s, PROXY_SOCKS5, NULL, NULL, "h", 143, 500, &c, &err), -1);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	CHECK(strstr(err.msg, "timed out after 500 ms") != NULL);
	CHECK(strstr(err.msg, "through the proxy") != NULL);
	server_join(&s, NULL);
}

TEST(unreachable_proxy_is_transient_and_named)
{
	/* a port nobody listens on: bind, note it, close */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof(a);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &al);
	close(fd);
	struct proxy_settings px = proxy(PROXY_HTTP, ntohs(a.sin_port), NULL, NULL);
	struct net_conn *c = NULL;
	struct err err = {0};
	CHECK_INT(net_conn_open("IMAP.example.com", 993, &px, 2000, &c, &err), -1);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	CHECK(strstr(err.msg, "cannot connect to http proxy \"127.0.0.1\"") != NULL);
	CHECK(strstr(err.msg, "for IMAP.example.com port 993") != NULL);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	RUN(socks5_replies_in_every_split);
	RUN(socks5_hostile_replies);
	RUN(http_head_in_every_split);
	RUN(http_hostile_heads);
	RUN(socks5_remote_dns_and_tunnel_bytes);
	RUN(socks5_user_password_and_ip_destinations);
	RUN(socks5_refusals);
	RUN(http_connect_with_basic_credentials);
	RUN(http_connect_refusals);
	RUN(http_connect_huge_reply);
	RUN(trickling_proxy_is_held_to_the_connect_timeout);
	RUN(unreachable_proxy_is_transient_and_named);
	return test_summary();
}
