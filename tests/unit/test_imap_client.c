/*
 * IMAP client against a scripted fake server on 127.0.0.1 (a thread that
 * plays a transcript): the hostile cases a real server will not produce.
 * Each script lists what the server sends and the exact lines it expects
 * from the client (curl's habit: the server's script is the test data).
 * Every wait is bounded.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine/fetch/imap.h"
#include "engine/net/net.h"
#include "engine/util/log.h"
#include "tests/unit/test.h"

enum step_kind { S_END, S_SEND, S_EXPECT, S_EXPECT_PREFIX, S_SLEEP_MS, S_CLOSE };

struct step {
	enum step_kind kind;
	const char *data;       /* S_SEND bytes; S_EXPECT the line without CRLF */
	size_t len;             /* S_SEND: 0 = strlen; S_SLEEP_MS: milliseconds */
};

#define SEND(s) {S_SEND, s, sizeof(s) - 1}
#define EXPECT(s) {S_EXPECT, s, 0}
#define EXPECT_PREFIX(s) {S_EXPECT_PREFIX, s, 0}
#define CLOSE {S_CLOSE, NULL, 0}
#define SLEEP(ms) {S_SLEEP_MS, NULL, ms}
#define END {S_END, NULL, 0}

struct server {
	int lfd;
	unsigned port;
	const struct step *steps;
	pthread_t thread;
	char failure[512];
	char after[4096];       /* what the client sent after the script ended */
	size_t after_len;
};

static int read_line(int fd, char *out, size_t outlen)
{
	size_t n = 0;
	while (n + 1 < outlen) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 3000) <= 0)
			return -1;
		char ch;
		if (read(fd, &ch, 1) != 1)
			return -1;
		if (ch == '\n') {
			if (n && out[n - 1] == '\r')
				n--;
			out[n] = '\0';
			return 0;
		}
		out[n++] = ch;
	}
	return -1;
}

static void *server_main(void *arg)
{
	struct server *s = arg;
	struct pollfd p = {.fd = s->lfd, .events = POLLIN};
	if (poll(&p, 1, 3000) <= 0) {
		snprintf(s->failure, sizeof(s->failure), "no connection");
		return NULL;
	}
	int fd = accept(s->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	bool closed = false;
	for (const struct step *st = s->steps; st->kind != S_END; st++) {
		if (st->kind == S_CLOSE) {
			closed = true;
			break;
		}
		if (st->kind == S_SEND) {
			if (write(fd, st->data, st->len) != (ssize_t)st->len)
				break;
		} else if (st->kind == S_SLEEP_MS) {
			struct timespec ts = {(time_t)(st->len / 1000),
					      (long)(st->len % 1000) * 1000000};
			nanosleep(&ts, NULL);
		} else {
			char line[4096];
			if (read_line(fd, line, sizeof(line)) < 0) {
				snprintf(s->failure, sizeof(s->failure), "expected \"%s\", got nothing",
					 st->data);
				break;
			}
			if (st->kind == S_EXPECT_PREFIX ? strncmp(line, st->data, strlen(st->data)) != 0
							 : strcmp(line, st->data) != 0) {
				snprintf(s->failure, sizeof(s->failure), "expected \"%.200s\", got \"%.200s\"",
					 st->data, line);
				break;
			}
		}
	}
	if (closed) {
		close(fd);
		return NULL;
	}
	shutdown(fd, SHUT_WR);
	/* let the client finish reading, then close (bounded); keep what it sent */
	char b[256];
	for (int i = 0; i < 100; i++) {
		struct pollfd q = {.fd = fd, .events = POLLIN};
		if (poll(&q, 1, 30) <= 0)
			continue;
		ssize_t n = read(fd, b, sizeof(b));
		if (n <= 0)
			break;
		size_t room = sizeof(s->after) - 1 - s->after_len;
		size_t k = (size_t)n < room ? (size_t)n : room;
		memcpy(s->after + s->after_len, b, k);
		s->after_len += k;
	}
	s->after[s->after_len] = '\0';
	close(fd);
	return NULL;
}

static void server_start(struct server *s, const struct step *steps)
{
	memset(s, 0, sizeof(*s));
	s->steps = steps;
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof(a);
	if (bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s->lfd, 1) < 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &al) < 0)
		abort();
	s->port = ntohs(a.sin_port);
	pthread_create(&s->thread, NULL, server_main, s);
}

/*
 * Joins the server; its script must have run to the end without mismatch,
 * and nothing the client sent afterwards may carry credentials or touch
 * mail (the hostile cases end with the client giving up, not going on).
 */
static void server_finish(struct server *s)
{
	static const char *const forbidden[] = {
		"LOGIN", "AUTHENTICATE", "AGFsaWNlAHB3", "MOVE", "COPY", "STORE", "EXPUNGE", NULL,
	};
	pthread_join(s->thread, NULL);
	close(s->lfd);
	if (s->failure[0]) {
		fprintf(stderr, "  server: %s\n", s->failure);
		test_failed_now = 1;
	}
	for (size_t i = 0; forbidden[i]; i++) {
		if (memmem(s->after, s->after_len, forbidden[i], strlen(forbidden[i]))) {
			fprintf(stderr, "  server: the client sent \"%s\" after the script: %.200s\n",
				forbidden[i], s->after);
			test_failed_now = 1;
		}
	}
}

static struct config_account account(unsigned port, enum security sec)
{
	static char host[] = "127.0.0.1", user[] = "alice", pass[] = "pw", name[] = "t";
	struct config_account acc;
	memset(&acc, 0, sizeof(acc));
	acc.name = name;
	acc.host = host;
	acc.port = port;
	acc.security = sec;
	acc.tls.verify = true;
	acc.username = user;
	acc.password = pass;
	acc.timeout_ms = 2000;
	return acc;
}

/* Greeting with SASL-IR login as alice/pw; the tagged OK gives caps. */
#define LOGIN_STEPS(caps)                                                              \
	SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n"),              \
	EXPECT("A0001 AUTHENTICATE PLAIN AGFsaWNlAHB3"),                               \
	SEND("A0001 OK [CAPABILITY IMAP4rev1 " caps "] Logged in\r\n")

#define SELECT_STEPS(tag, n)                                                           \
	EXPECT(tag " SELECT \"INBOX\""),                                               \
	SEND("* " #n " EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n" tag " OK [READ-WRITE] x\r\n")

#define LOGOUT_STEPS(tag) EXPECT(tag " LOGOUT"), SEND("* BYE bye\r\n" tag " OK done\r\n")

static int connect_err(const struct step *steps, enum security sec, struct err *err)
{
	struct server s;
	server_start(&s, steps);
	struct config_account acc = account(s.port, sec);
	struct imap_client *c = NULL;
	int r = imap_connect(&acc, NULL, &c, err);
	imap_client_free(&c);
	server_finish(&s);
	return r;
}

TEST(starttls_injection_refused)
{
	static const struct step steps[] = {
		SEND("* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n"),
		EXPECT("A0001 STARTTLS"),
		SEND("A0001 OK Begin TLS\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n"),
		END,
	};
	struct err err = {0};
	CHECK(connect_err(steps, SEC_STARTTLS, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "injection") != NULL);
}

TEST(starttls_preauth_refused)
{
	static const struct step steps[] = {SEND("* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n"), END};
	struct err err = {0};
	CHECK(connect_err(steps, SEC_STARTTLS, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "PREAUTH") != NULL);
}

TEST(starttls_missing_or_refused)
{
	static const struct step missing[] = {
		SEND("* OK hi\r\n"), EXPECT("A0001 CAPABILITY"),
		SEND("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA0001 OK x\r\n"), END,
	};
	struct err err = {0};
	CHECK(connect_err(missing, SEC_STARTTLS, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "STARTTLS") != NULL);
	static const struct step refused[] = {
		SEND("* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n"), EXPECT("A0001 STARTTLS"),
		SEND("A0001 NO not now\r\n"), END,
	};
	CHECK(connect_err(refused, SEC_STARTTLS, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "refused STARTTLS (not now)") != NULL);
	static const struct step bad[] = {
		SEND("* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n"), EXPECT("A0001 STARTTLS"),
		SEND("A0001 BAD what\r\n"), END,
	};
	CHECK(connect_err(bad, SEC_STARTTLS, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "security: starttls requires") != NULL);
}

/*
 * starttls-optional: a server without STARTTLS (or one that refuses it)
 * is used in plaintext, but no login that shows the password is made;
 * challenge-response logins still work.
 */
TEST(starttls_optional_falls_back_without_showing_the_password)
{
	static const struct step plain_only[] = {
		SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\r\n"), END,
	};
	struct err err = {0};
	CHECK(connect_err(plain_only, SEC_STARTTLS_OPTIONAL, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "refusing to send it in the clear") != NULL);
	static const struct step refused_login_cmd[] = {
		SEND("* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n"), EXPECT("A0001 STARTTLS"),
		SEND("A0001 NO [UNAVAILABLE] no certificate configured\r\n"), END,
	};
	CHECK(connect_err(refused_login_cmd, SEC_STARTTLS_OPTIONAL, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "offers no login that keeps the password secret") != NULL);
	/* an explicit plaintext mechanism is refused the same way */
	static const struct step explicit_plain[] = {
		SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\r\n"), END,
	};
	struct server s;
	server_start(&s, explicit_plain);
	struct config_account acc = account(s.port, SEC_STARTTLS_OPTIONAL);
	acc.auth = AUTH_PLAIN;
	struct imap_client *c = NULL;
	CHECK(imap_connect(&acc, NULL, &c, &err) < 0);
	CHECK(strstr(err.msg, "auth: plain would send the password unencrypted") != NULL);
	imap_client_free(&c);
	server_finish(&s);
	static const struct step cram[] = {
		SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=CRAM-MD5] hi\r\n"),
		EXPECT("A0001 AUTHENTICATE CRAM-MD5"),
		SEND("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"),
		EXPECT("YWxpY2UgYjAzN2EwYThmZDhjZDI2MWRlNmE5Mzg3YTFlODI2NDg="),
		SEND("A0001 OK [CAPABILITY IMAP4rev1] in\r\n"), LOGOUT_STEPS("A0002"), END,
	};
	CHECK(connect_err(cram, SEC_STARTTLS_OPTIONAL, &err) == 0);
	static const struct step preauth[] = {
		SEND("* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n"), LOGOUT_STEPS("A0001"), END,
	};
	CHECK(connect_err(preauth, SEC_STARTTLS_OPTIONAL, &err) == 0);
}

/* SCRAM: "logged in" before the server proved it knows the password. */
TEST(tagged_ok_before_scram_finished_refused)
{
	static const struct step early[] = {
		SEND("* OK [CAPABILITY IMAP4rev1 AUTH=SCRAM-SHA-256 SASL-IR] hi\r\n"),
		EXPECT_PREFIX("A0001 AUTHENTICATE SCRAM-SHA-256 biws"),
		SEND("A0001 OK [CAPABILITY IMAP4rev1] welcome\r\n"), END,
	};
	struct err err = {0};
	CHECK(connect_err(early, SEC_NONE, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "never proved it knows the password") != NULL);
	/* a server-first message that is not base64: cancelled with "*" at once */
	static const struct step garbage[] = {
		SEND("* OK [CAPABILITY IMAP4rev1 AUTH=SCRAM-SHA-1] hi\r\n"),
		EXPECT("A0001 AUTHENTICATE SCRAM-SHA-1"), SEND("+ \r\n"), EXPECT_PREFIX("biws"),
		SEND("+ %%%not-base64%%%\r\n"), EXPECT("*"),
		SEND("A0001 BAD canceled\r\n"), END,
	};
	CHECK(connect_err(garbage, SEC_NONE, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "not base64") != NULL);
}

/* A tagged OK while the client still waits for "+" to send the rest. */
TEST(tagged_ok_before_the_command_ends)
{
	static const struct step steps[] = {
		SEND("* OK [CAPABILITY IMAP4rev1] hi\r\n"), EXPECT("A0001 LOGIN {5}"),
		SEND("A0001 OK [CAPABILITY IMAP4rev1] in already\r\n"), END,
	};
	struct server s;
	server_start(&s, steps);
	struct config_account acc = account(s.port, SEC_NONE);
	static char user[] = "j\xc3\xb6rg";
	acc.username = user;
	acc.auth = AUTH_LOGIN;
	struct imap_client *c = NULL;
	struct err err = {0};
	CHECK(imap_connect(&acc, NULL, &c, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "tagged OK before the command was complete") != NULL);
	imap_client_free(&c);
	server_finish(&s);
}

TEST(xoauth2_token_and_error_challenge)
{
	static const struct step steps[] = {
		SEND("* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR] hi\r\n"),
		/* user=alice^Aauth=Bearer pw^A^A */
		EXPECT("A0001 AUTHENTICATE XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciBwdwEB"),
		SEND("+ eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIn0=\r\n"), EXPECT(""),
		SEND("A0001 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"), END,
	};
	struct server s;
	server_start(&s, steps);
	struct config_account acc = account(s.port, SEC_NONE);
	acc.auth = AUTH_XOAUTH2;
	struct imap_client *c = NULL;
	struct err err = {0};
	CHECK(imap_connect(&acc, NULL, &c, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "Invalid credentials") != NULL);
	CHECK(strstr(err.msg, "\\\"status\\\":\\\"400\\\"") != NULL);
	imap_client_free(&c);
	server_finish(&s);
}

/* NTLM (Exchange's "Secure Password Authentication"): the message types in order. */
TEST(ntlm_exchange)
{
	static const struct step steps[] = {
		SEND("* OK [CAPABILITY IMAP4rev1 AUTH=NTLM AUTH=GSSAPI] hi\r\n"),
		EXPECT("A0001 AUTHENTICATE NTLM"), SEND("+ \r\n"),
		EXPECT_PREFIX("TlRMTVNTUAAB"),  /* NTLMSSP, type 1 */
		/* type 2: no target, flags 0x8201, challenge 0123456789abcdef */
		SEND("+ TlRMTVNTUAACAAAAAAAAACgAAAABggAAASNFZ4mrze8AAAAAAAAAAAAAAAAAAAAA\r\n"),
		EXPECT_PREFIX("TlRMTVNTUAAD"),  /* type 3 */
		SEND("A0001 OK [CAPABILITY IMAP4rev1] in\r\n"), LOGOUT_STEPS("A0002"), END,
	};
	struct server s;
	server_start(&s, steps);
	struct config_account acc = account(s.port, SEC_TLS);
	acc.security = SEC_NONE;
	acc.auth = AUTH_NTLM;
	static char user[] = "EXAMPLE\\alice";
	acc.username = user;
	struct imap_client *c = NULL;
	struct err err = {0};
	CHECK(imap_connect(&acc, NULL, &c, &err) == 0);
	if (!c)
		fprintf(stderr, "  %s\n", err.msg);
	imap_client_free(&c);
	server_finish(&s);
}

TEST(greeting_bye_and_garbage)
{
	static const struct step bye[] = {SEND("* BYE too many connections\r\n"), END};
	struct err err = {0};
	CHECK(connect_err(bye, SEC_NONE, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	CHECK(strstr(err.msg, "too many connections") != NULL);
	static const struct step garbage[] = {SEND("SSH-2.0-OpenSSH\r\n"), END};
	CHECK(connect_err(garbage, SEC_NONE, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
}

TEST(login_without_sasl_ir_and_logindisabled)
{
	static const struct step steps[] = {
		SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n"),
		EXPECT("A0001 AUTHENTICATE PLAIN"), SEND("+ \r\n"), EXPECT("AGFsaWNlAHB3"),
		SEND("A0001 OK [CAPABILITY IMAP4rev1] in\r\n"), LOGOUT_STEPS("A0002"), END,
	};
	struct err err = {0};
	CHECK(connect_err(steps, SEC_NONE, &err) == 0);
	static const struct step disabled[] = {
		SEND("* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi\r\n"), END,
	};
	CHECK(connect_err(disabled, SEC_NONE, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "LOGINDISABLED") != NULL);
	static const struct step failed[] = {
		SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\r\n"),
		EXPECT("A0001 AUTHENTICATE PLAIN AGFsaWNlAHB3"),
		SEND("A0001 NO [AUTHENTICATIONFAILED] nope\r\n"), END,
	};
	CHECK(connect_err(failed, SEC_NONE, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "pw") == NULL);
}

TEST(login_quoting_and_literals)
{
	/* 8-bit user name: a synchronising literal; quote and backslash escaped */
	static const struct step steps[] = {
		SEND("* OK [CAPABILITY IMAP4rev1] hi\r\n"), EXPECT("A0001 LOGIN {5}"),
		SEND("+ go on\r\n"), EXPECT("j\xc3\xb6rg \"p\\\"w\\\\\""),
		SEND("A0001 OK [CAPABILITY IMAP4rev1] in\r\n"), LOGOUT_STEPS("A0002"), END,
	};
	struct server s;
	server_start(&s, steps);
	struct config_account acc = account(s.port, SEC_NONE);
	static char user[] = "j\xc3\xb6rg", pass[] = "p\"w\\";
	acc.username = user;
	acc.password = pass;
	struct imap_client *c = NULL;
	struct err err = {0};
	CHECK(imap_connect(&acc, NULL, &c, &err) == 0);
	imap_client_free(&c);
	server_finish(&s);
}

static int collect_cb(void *ud, uint32_t uid, const char *raw, size_t len, struct err *err)
{
	char *out = ud;
	(void)err;
	size_t n = strlen(out);
	snprintf(out + n, 256 - n, "%u:%.*s;", uid, (int)len, raw);
	return 0;
}

/* Connects with the script's login, runs fn, frees, checks the server. */
static void session(const struct step *steps, const struct imap_limits *lim,
		    uint64_t timeout_ms,
		    void (*fn)(struct imap_client *c))
{
	struct server s;
	server_start(&s, steps);
	struct config_account acc = account(s.port, SEC_NONE);
	if (timeout_ms)
		acc.timeout_ms = timeout_ms;
	struct imap_client *c = NULL;
	struct err err = {0};
	CHECK(imap_connect(&acc, lim, &c, &err) == 0);
	if (c)
		fn(c);
	imap_client_free(&c);
	server_finish(&s);
}

static void fetch_no(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	char got[256] = "";
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	CHECK_INT(uv, 42);
	CHECK_INT(ex, 3);
	uint32_t uids[] = {3, 1, 2, 7, 2};
	CHECK(imap_fetch_bodies(c, uids, 5, collect_cb, got, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	/* only what the server really sent; the unrequested UID 9 is ignored */
	CHECK_STR(got, "1:he)\r\nlo;");
}

TEST(fetch_tagged_no_fails)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"), SELECT_STEPS("A0002", 3),
		EXPECT("A0003 UID FETCH 1:3,7 (UID BODY.PEEK[])"),
		SEND("* 1 FETCH (UID 1 BODY[] {7}\r\nhe)\r\nlo)\r\n"
		     "* 9 FETCH (UID 9 BODY[] {1}\r\nx)\r\n"
		     "* 2 FETCH (FLAGS (\\Seen))\r\n"
		     "A0003 NO Some messages could not be FETCHed\r\n"),
		LOGOUT_STEPS("A0004"), END,
	};
	session(steps, NULL, 0, fetch_no);
}

static void fetch_ok(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	char got[256] = "";
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	uint32_t uids[] = {4, 5};
	CHECK(imap_fetch_headers(c, uids, 2, collect_cb, got, &err) == 0);
	CHECK_STR(got, "4:H4;5:;");
}

TEST(fetch_headers_ok)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"), SELECT_STEPS("A0002", 2),
		EXPECT("A0003 UID FETCH 4:5 (UID BODY.PEEK[HEADER])"),
		SEND("* 1 FETCH (UID 4 BODY[HEADER] {2}\r\nH4)\r\n"
		     "* 2 FETCH (BODY[HEADER] \"\" UID 5)\r\nA0003 OK done\r\n"),
		LOGOUT_STEPS("A0004"), END,
	};
	session(steps, NULL, 0, fetch_ok);
}

static void list_msgs(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	struct imap_msg_info *v = NULL;
	size_t n = 0;
	CHECK(imap_list_messages(c, &v, &n, &err) == 0);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_INT(v[0].uid, 7);
		CHECK_INT(v[0].size, 70);
		CHECK_INT(v[1].uid, 10);
		CHECK_INT(v[1].size, 100);
	}
	free(v);
}

TEST(list_skips_deleted_and_sorts)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"), SELECT_STEPS("A0002", 4),
		EXPECT("A0003 UID FETCH 1:* (UID RFC822.SIZE FLAGS)"),
		SEND("* 1 FETCH (UID 10 RFC822.SIZE 100 FLAGS (\\Seen))\r\n"
		     "* 2 FETCH (UID 5 RFC822.SIZE 50 FLAGS (\\Seen \\Deleted))\r\n"
		     "* 3 FETCH (UID 7 RFC822.SIZE 70 FLAGS ())\r\n"
		     "* 3 FETCH (FLAGS (\\Seen))\r\nA0003 OK done\r\n"),
		LOGOUT_STEPS("A0004"), END,
	};
	session(steps, NULL, 0, list_msgs);
}

static void list_empty(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	CHECK(imap_select(c, "INBOX", true, &uv, &ex, &err) == 0);
	struct imap_msg_info *v = NULL;
	size_t n = 9;
	CHECK(imap_list_messages(c, &v, &n, &err) == 0);
	CHECK_INT(n, 0);
	CHECK(v == NULL);
}

TEST(list_empty_mailbox_sends_no_fetch)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"), EXPECT("A0002 EXAMINE \"INBOX\""),
		SEND("* 0 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\nA0002 OK [READ-ONLY] x\r\n"),
		LOGOUT_STEPS("A0003"), END,
	};
	session(steps, NULL, 0, list_empty);
}

static void big_literal(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	char got[256] = "";
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	uint32_t uid = 1;
	CHECK(imap_fetch_bodies(c, &uid, 1, collect_cb, got, &err) < 0);
	CHECK_INT(err.cls, ERR_MESSAGE);
	CHECK_STR(got, "");
	/* the stream is out of step now: later calls fail, nothing is sent */
	CHECK(imap_fetch_bodies(c, &uid, 1, collect_cb, got, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
}

TEST(literal_over_limit_refused)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"), SELECT_STEPS("A0002", 1),
		EXPECT("A0003 UID FETCH 1 (UID BODY.PEEK[])"),
		SEND("* 1 FETCH (UID 1 BODY[] {1000}\r\n"), END,
	};
	struct imap_limits lim = {.max_line = 1024, .max_literal = 100};
	session(steps, &lim, 0, big_literal);
}

static void stalled(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	char got[256] = "";
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	uint32_t uid = 1;
	CHECK(imap_fetch_bodies(c, &uid, 1, collect_cb, got, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	CHECK(strstr(err.msg, "timed out") != NULL);
	CHECK_STR(got, "");
}

TEST(server_stops_mid_literal)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"), SELECT_STEPS("A0002", 1),
		EXPECT("A0003 UID FETCH 1 (UID BODY.PEEK[])"),
		SEND("* 1 FETCH (UID 1 BODY[] {100}\r\nabc"), SLEEP(900), END,
	};
	session(steps, NULL, 300, stalled);
}

/* What a hostile FETCH response must end in: this class, this text, nothing delivered. */
static enum err_class want_cls;
static const char *want_text;

static void fetch_fails(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	char got[256] = "";
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	uint32_t uid = 1;
	CHECK(imap_fetch_bodies(c, &uid, 1, collect_cb, got, &err) < 0);
	CHECK_INT(err.cls, want_cls);
	if (!strstr(err.msg, want_text)) {
		fprintf(stderr, "  error \"%s\" lacks \"%s\"\n", err.msg, want_text);
		test_failed_now = 1;
	}
	CHECK_STR(got, "");
	/* the stream is out of step: nothing more is sent (server_finish checks) */
	uint32_t v[] = {1};
	CHECK(imap_move(c, v, 1, "Done", &err) < 0);
}

#define FETCH_PRELUDE                                                                  \
	LOGIN_STEPS("MOVE"), SELECT_STEPS("A0002", 1),                                 \
	EXPECT("A0003 UID FETCH 1 (UID BODY.PEEK[])")

TEST(literal_sizes_from_hostile_servers)
{
	/* 4 GiB - 1: over any limit, refused before a byte of it is read */
	static const struct step huge[] = {
		FETCH_PRELUDE, SEND("* 1 FETCH (UID 1 BODY[] {4294967295}\r\nabc"), END,
	};
	want_cls = ERR_MESSAGE;
	want_text = "larger than the limit";
	session(huge, NULL, 0, fetch_fails);
	static const struct step negative[] = {
		FETCH_PRELUDE, SEND("* 1 FETCH (UID 1 BODY[] {-1}\r\nabc)\r\n"), END,
	};
	want_cls = ERR_SOURCE;
	want_text = "protocol error";
	session(negative, NULL, 0, fetch_fails);
	/* past 64 bits: read as "too big", never wrapped around to a small size */
	static const struct step overflow[] = {
		FETCH_PRELUDE, SEND("* 1 FETCH (UID 1 BODY[] {99999999999999999999999}\r\n"), END,
	};
	want_cls = ERR_MESSAGE;
	want_text = "larger than the limit";
	session(overflow, NULL, 0, fetch_fails);
}

TEST(truncated_literal_and_garbage)
{
	static const struct step truncated[] = {
		FETCH_PRELUDE, SEND("* 1 FETCH (UID 1 BODY[] {100}\r\nabc"), CLOSE, END,
	};
	want_cls = ERR_TRANSIENT;
	want_text = "connection closed";
	session(truncated, NULL, 0, fetch_fails);
	static const struct step nul[] = {
		FETCH_PRELUDE, {S_SEND, "* 1 FETCH (UID 1\0 BODY[] {3}\r\nabc)\r\n", 36}, END,
	};
	want_cls = ERR_SOURCE;
	want_text = "protocol error";
	session(nul, NULL, 0, fetch_fails);
	static const struct step garbage[] = {
		FETCH_PRELUDE, SEND("\x01\x02\xff\xfe garbage ((((\r\n"), END,
	};
	session(garbage, NULL, 0, fetch_fails);
}

TEST(ten_megabyte_line_refused_early)
{
	size_t n = 10 * 1024 * 1024;
	char *line = malloc(n + 64);
	int o = snprintf(line, 64, "* 1 FETCH (UID 1 BODY[] \"");
	memset(line + o, 'a', n);
	memcpy(line + o + n, "\")\r\n", 4);
	struct step steps[] = {
		FETCH_PRELUDE, {S_SEND, line, (size_t)o + n + 4}, END,
	};
	want_cls = ERR_SOURCE;
	want_text = "protocol error";
	session(steps, NULL, 0, fetch_fails);
	free(line);
}

/* A server that trickles bytes: each read is quick, the whole session is not. */
TEST(session_timeout_bounds_a_trickling_server)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"), SELECT_STEPS("A0002", 1),
		EXPECT("A0003 UID FETCH 1 (UID BODY.PEEK[])"),
		SEND("* 1 FETCH (UID 1 BODY[] {100}\r\na"), SLEEP(150), SEND("b"), SLEEP(150),
		SEND("c"), SLEEP(150), SEND("d"), SLEEP(150), SEND("e"), SLEEP(150), END,
	};
	struct server s;
	server_start(&s, steps);
	struct config_account acc = account(s.port, SEC_NONE);
	acc.io_timeout_ms = 1000;
	acc.session_timeout_ms = 400;
	struct imap_client *c = NULL;
	struct err err = {0};
	CHECK(imap_connect(&acc, NULL, &c, &err) == 0);
	if (c) {
		want_cls = ERR_TRANSIENT;
		want_text = "session time limit of 400 ms reached";
		fetch_fails(c);
	}
	imap_client_free(&c);
	server_finish(&s);
}

static void closed(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
}

TEST(server_closes_mid_response)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"), EXPECT("A0002 SELECT \"INBOX\""), SEND("* 3 EXI"), END,
	};
	session(steps, NULL, 0, closed);
}

static void do_move(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	uint32_t uids[] = {9, 1, 2, 3, 5};
	CHECK(imap_move(c, uids, 5, "Done", &err) == 0);
}

TEST(move_with_move)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE UIDPLUS"), SELECT_STEPS("A0002", 5),
		EXPECT("A0003 UID MOVE 1:3,5,9 \"Done\""),
		SEND("* OK [COPYUID 1 1:3,5,9 1:5] x\r\n* 1 EXPUNGE\r\nA0003 OK moved\r\n"),
		LOGOUT_STEPS("A0004"), END,
	};
	session(steps, NULL, 0, do_move);
}

TEST(move_with_uidplus)
{
	static const struct step steps[] = {
		LOGIN_STEPS("UIDPLUS"), SELECT_STEPS("A0002", 5),
		EXPECT("A0003 UID COPY 1:3,5,9 \"Done\""), SEND("A0003 OK copied\r\n"),
		EXPECT("A0004 UID STORE 1:3,5,9 +FLAGS.SILENT (\\Deleted)"),
		SEND("A0004 OK stored\r\n"),
		EXPECT("A0005 UID EXPUNGE 1:3,5,9"), SEND("A0005 OK gone\r\n"),
		LOGOUT_STEPS("A0006"), END,
	};
	session(steps, NULL, 0, do_move);
}

TEST(move_without_uidplus_never_expunges)
{
	static const struct step steps[] = {
		LOGIN_STEPS("IDLE"), SELECT_STEPS("A0002", 5),
		EXPECT("A0003 UID COPY 1:3,5,9 \"Done\""), SEND("A0003 OK copied\r\n"),
		EXPECT("A0004 UID STORE 1:3,5,9 +FLAGS.SILENT (\\Deleted)"),
		SEND("A0004 OK stored\r\n"), LOGOUT_STEPS("A0005"), END,
	};
	session(steps, NULL, 0, do_move);
}

static void move_fails(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	uint32_t uid = 4;
	CHECK(imap_move(c, &uid, 1, "Done", &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
}

TEST(move_copy_refused_stops)
{
	static const struct step steps[] = {
		LOGIN_STEPS("UIDPLUS"), SELECT_STEPS("A0002", 5),
		EXPECT("A0003 UID COPY 4 \"Done\""),
		SEND("A0003 NO [TRYCREATE] no such mailbox\r\n"), LOGOUT_STEPS("A0004"), END,
	};
	session(steps, NULL, 0, move_fails);
}

static void resolve(struct imap_client *c)
{
	struct err err = {0};
	char *name = NULL;
	CHECK(imap_resolve_mailbox(c, "INBOX/Support", false, &name, &err) == 0);
	CHECK_STR(name, "INBOX.Support");
	free(name);
	CHECK(imap_resolve_mailbox(c, "Archive/2024", true, &name, &err) == 0);
	CHECK_STR(name, "Archive.2024");
	free(name);
	CHECK(imap_resolve_mailbox(c, "Missing", false, &name, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(name == NULL);
	/* not ASCII and no UTF8=ACCEPT: refused before anything is sent */
	CHECK(imap_resolve_mailbox(c, "Gr\xc3\xbc\xc3\x9f" "e", false, &name, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
}

TEST(resolve_mailbox_names)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"),
		EXPECT("A0002 LIST \"\" \"\""),
		SEND("* LIST (\\Noselect) \".\" \"\"\r\nA0002 OK x\r\n"),
		EXPECT("A0003 LIST \"\" \"INBOX/Support\""), SEND("A0003 OK x\r\n"),
		EXPECT("A0004 LIST \"\" \"INBOX.Support\""),
		SEND("* LIST (\\HasNoChildren) \".\" INBOX.Support\r\nA0004 OK x\r\n"),
		EXPECT("A0005 LIST \"\" \"Archive/2024\""), SEND("A0005 OK x\r\n"),
		EXPECT("A0006 LIST \"\" \"Archive.2024\""),
		SEND("* LIST (\\NonExistent) \".\" Archive.2024\r\nA0006 OK x\r\n"),
		EXPECT("A0007 CREATE \"Archive.2024\""), SEND("A0007 OK created\r\n"),
		EXPECT("A0008 SUBSCRIBE \"Archive.2024\""), SEND("A0008 NO whatever\r\n"),
		EXPECT("A0009 LIST \"\" \"Missing\""), SEND("A0009 OK x\r\n"),
		LOGOUT_STEPS("A0010"), END,
	};
	session(steps, NULL, 0, resolve);
}

static void wrong_tag(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
}

TEST(unknown_tag_is_protocol_error)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"), EXPECT("A0002 SELECT \"INBOX\""), SEND("B0002 OK x\r\n"), END,
	};
	session(steps, NULL, 0, wrong_tag);
}

static int count_cb(void *ud, const char *data, size_t len, struct err *err)
{
	size_t *n = ud;
	(void)data;
	(void)err;
	*n += len;
	return 0;
}

/* The net layer's line reader and exact reads (used by POP3 and others). */
TEST(net_line_reader)
{
	static const struct step steps[] = {
		SEND("+OK hello\r\nbare lf\n0123456789"), SLEEP(50),
		SEND("abcdef\r\nEXACT12345"),
		SEND("0123456789012345678901234567890123456789"),
		SEND("x123456789012345678901234567890\r\n"), END,
	};
	struct server s;
	server_start(&s, steps);
	struct net_conn *c = NULL;
	struct err err = {0};
	const char *line;
	size_t len, n = 0;
	CHECK(net_conn_open("127.0.0.1", s.port, 2000, &c, &err) == 0);
	if (c) {
		CHECK(net_conn_read_line(c, 100, &line, &len, &err) == 0);
		CHECK_STR(line, "+OK hello");
		CHECK(net_conn_read_line(c, 100, &line, &len, &err) == 0);
		CHECK_STR(line, "bare lf");
		CHECK(net_conn_read_line(c, 100, &line, &len, &err) == 0);
		CHECK_STR(line, "0123456789abcdef");
		struct buf b;
		buf_init(&b, 10);
		CHECK(net_conn_read_exact_buf(c, 11, &b, &err) < 0);
		CHECK_INT(err.cls, ERR_MESSAGE);
		CHECK(net_conn_read_exact_buf(c, 10, &b, &err) == 0);
		CHECK_STR(buf_str(&b), "EXACT12345");
		buf_release(&b);
		CHECK(net_conn_read_exact(c, 40, count_cb, &n, &err) == 0);
		CHECK_INT(n, 40);
		/* 31 bytes before CRLF: over a limit of 20, refused */
		CHECK(net_conn_read_line(c, 20, &line, &len, &err) < 0);
		CHECK_INT(err.cls, ERR_SOURCE);
		CHECK(net_conn_read_line(c, 100, &line, &len, &err) < 0);
		CHECK_INT(err.cls, ERR_TRANSIENT);
	}
	net_conn_free(&c);
	CHECK(c == NULL);
	server_finish(&s);
}

TEST(net_connect_refused)
{
	/* a port nobody listens on: bind one, close it, connect */
	struct server s;
	static const struct step none[] = {END};
	server_start(&s, none);
	unsigned port = s.port;
	struct net_conn *c = NULL;
	struct err err = {0};
	/* let the server thread accept and finish first */
	CHECK(net_conn_open("127.0.0.1", port, 2000, &c, &err) == 0);
	net_conn_free(&c);
	server_finish(&s);
	CHECK(net_conn_open("127.0.0.1", port, 2000, &c, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	CHECK(c == NULL);
}

/*
 * A server whose accept queue is full: the kernel drops further SYNs, so
 * connect() hangs. connect_timeout, not timeout, bounds the wait.
 */
TEST(connect_timeout_bounds_a_full_backlog)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof(a);
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 0) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &al) < 0)
		abort();
	/* fill the queue (never accepted) */
	int fill[4];
	for (int i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		(void)!connect(fill[i], (struct sockaddr *)&a, sizeof(a));
	}
	struct timespec pause = {0, 100 * 1000000};
	nanosleep(&pause, NULL);
	struct config_account acc = account(ntohs(a.sin_port), SEC_NONE);
	acc.timeout_ms = 30000;
	acc.connect_timeout_ms = 300;
	struct imap_client *c = NULL;
	struct err err = {0};
	CHECK(imap_connect(&acc, NULL, &c, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	/* only connect_timeout is 300 ms here (the read timeout is 30 s) */
	if (!strstr(err.msg, "cannot connect") || !strstr(err.msg, "timed out after 300 ms")) {
		fprintf(stderr, "  error: %s\n", err.msg);
		test_failed_now = 1;
	}
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(lfd);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_ERROR);
	RUN(starttls_injection_refused);
	RUN(starttls_preauth_refused);
	RUN(starttls_missing_or_refused);
	RUN(starttls_optional_falls_back_without_showing_the_password);
	RUN(tagged_ok_before_scram_finished_refused);
	RUN(tagged_ok_before_the_command_ends);
	RUN(xoauth2_token_and_error_challenge);
	RUN(ntlm_exchange);
	RUN(greeting_bye_and_garbage);
	RUN(login_without_sasl_ir_and_logindisabled);
	RUN(login_quoting_and_literals);
	RUN(fetch_tagged_no_fails);
	RUN(fetch_headers_ok);
	RUN(list_skips_deleted_and_sorts);
	RUN(list_empty_mailbox_sends_no_fetch);
	RUN(literal_over_limit_refused);
	RUN(server_stops_mid_literal);
	RUN(server_closes_mid_response);
	RUN(literal_sizes_from_hostile_servers);
	RUN(truncated_literal_and_garbage);
	RUN(ten_megabyte_line_refused_early);
	RUN(session_timeout_bounds_a_trickling_server);
	RUN(move_with_move);
	RUN(move_with_uidplus);
	RUN(move_without_uidplus_never_expunges);
	RUN(move_copy_refused_stops);
	RUN(resolve_mailbox_names);
	RUN(unknown_tag_is_protocol_error);
	RUN(net_line_reader);
	RUN(net_connect_refused);
	RUN(connect_timeout_bounds_a_full_backlog);
	log_clear_secrets();
	return test_summary();
}
