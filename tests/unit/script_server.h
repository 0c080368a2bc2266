/*
 * A scripted fake IMAP server for unit tests: a thread on 127.0.0.1 plays
 * a transcript (what it sends, the exact lines it expects back), so the
 * hostile cases a real server will not produce can be tested (curl's
 * habit: the server's script is the test data). Every wait is bounded.
 * After the script, whatever the client still sends is kept: if it
 * carries credentials or touches mail, the test fails.
 * Included by the IMAP client tests only (functions are static inline).
 */
#ifndef M2T_TEST_SCRIPT_SERVER_H
#define M2T_TEST_SCRIPT_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine/fetch/imap.h"
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

static inline int read_line(int fd, char *out, size_t outlen)
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

static inline void *server_main(void *arg)
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

static inline void server_start(struct server *s, const struct step *steps)
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
static inline void server_finish(struct server *s)
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

static inline struct config_account account(unsigned port, enum security sec)
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

static inline int connect_err(const struct step *steps, enum security sec, struct err *err)
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

static inline int collect_cb(void *ud, uint32_t uid, const char *raw, size_t len,
			     struct err *err)
{
	char *out = ud;
	(void)err;
	size_t n = strlen(out);
	snprintf(out + n, 256 - n, "%u:%.*s;", uid, (int)len, raw);
	return 0;
}

/* Connects with the script's login, runs fn, frees, checks the server. */
static inline void session(const struct step *steps, const struct imap_limits *lim,
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

#endif
