/*
 * A scripted fake server on 127.0.0.1 for protocol tests (a thread that
 * plays a transcript): what it sends and the exact lines it expects from
 * the client (curl's habit: the server's script is the test data), so the
 * hostile cases a real server will not produce can be tested. After the
 * script it keeps what the client still sends, so a test can prove that
 * nothing (no password, no change to mail) went out after a refusal. Every
 * wait is bounded, generously: under valgrind a client's first TLS setup
 * alone takes seconds. Header-only (static inline): protocol helpers live in
 * imap_script.h and the POP3 tests.
 */
#ifndef M2T_SCRIPT_SERVER_H
#define M2T_SCRIPT_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/test.h"

#define SERVER_WAIT_MS 15000      /* for the connection, and for each expected line */

enum step_kind { S_END, S_SEND, S_EXPECT, S_EXPECT_PREFIX, S_EXPECT_BYTES, S_SLEEP_MS,
		 S_CLOSE };

struct step {
	enum step_kind kind;
	const char *data;       /* S_SEND bytes; S_EXPECT the line without CRLF */
	size_t len;             /* S_SEND: bytes (0 = strlen); S_SLEEP_MS: milliseconds */
};

#define SEND(s) {S_SEND, s, sizeof(s) - 1}
#define SEND_N(p, n) {S_SEND, p, n}
#define EXPECT(s) {S_EXPECT, s, 0}
#define EXPECT_PREFIX(s) {S_EXPECT_PREFIX, s, 0}
/* exactly these bytes (binary protocols such as SOCKS5), no line framing */
#define EXPECT_BYTES(s) {S_EXPECT_BYTES, s, sizeof(s) - 1}
#define CLOSE {S_CLOSE, NULL, 0}   /* hang up now */
#define SLEEP(ms) {S_SLEEP_MS, NULL, ms}
#define END {S_END, NULL, 0}

struct server {
	int lfd;
	unsigned port;
	const struct step *steps;
	pthread_t thread;
	char failure[512];
	char after[4096];       /* what the client sent after the script, NUL-terminated */
	size_t after_len;
};

static inline int server_read_line(int fd, char *out, size_t outlen)
{
	size_t n = 0;
	while (n + 1 < outlen) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, SERVER_WAIT_MS) <= 0)
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
	if (poll(&p, 1, SERVER_WAIT_MS) <= 0) {
		snprintf(s->failure, sizeof(s->failure), "no connection");
		return NULL;
	}
	int fd = accept(s->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	for (const struct step *st = s->steps; st->kind != S_END; st++) {
		if (st->kind == S_CLOSE) {
			close(fd);
			return NULL;
		}
		if (st->kind == S_SEND) {
			/* a big send may meet a client that gave up: not a failure */
			size_t len = st->len ? st->len : strlen(st->data), off = 0;
			while (off < len) {
				ssize_t w = send(fd, st->data + off, len - off, MSG_NOSIGNAL);
				if (w <= 0)
					break;
				off += (size_t)w;
			}
			if (off < len)
				break;
		} else if (st->kind == S_EXPECT_BYTES) {
			char got[1024];
			size_t n = 0;
			while (n < st->len && n < sizeof(got)) {
				struct pollfd q = {.fd = fd, .events = POLLIN};
				if (poll(&q, 1, SERVER_WAIT_MS) <= 0 || read(fd, got + n, 1) != 1)
					break;
				n++;
			}
			if (n != st->len || memcmp(got, st->data, n) != 0) {
				snprintf(s->failure, sizeof(s->failure), "expected %zu bytes, got %zu "
					 "that differ", st->len, n);
				break;
			}
		} else if (st->kind == S_SLEEP_MS) {
			struct timespec ts = {(time_t)(st->len / 1000),
					      (long)(st->len % 1000) * 1000000};
			nanosleep(&ts, NULL);
		} else {
			char line[4096];
			if (server_read_line(fd, line, sizeof(line)) < 0) {
				snprintf(s->failure, sizeof(s->failure), "expected \"%s\", got nothing",
					 st->data);
				break;
			}
			if (st->kind == S_EXPECT_PREFIX ? strncmp(line, st->data, strlen(st->data)) != 0
							 : strcmp(line, st->data) != 0) {
				snprintf(s->failure, sizeof(s->failure),
					 "expected \"%.200s\", got \"%.200s\"", st->data, line);
				break;
			}
		}
	}
	shutdown(fd, SHUT_WR);
	/* keep what the client still sends, until it closes (bounded) */
	for (int i = 0; i < 100; i++) {
		struct pollfd q = {.fd = fd, .events = POLLIN};
		if (poll(&q, 1, 30) <= 0)
			continue;
		char b[512];
		ssize_t r = read(fd, b, sizeof(b));
		if (r <= 0)
			break;
		size_t room = sizeof(s->after) - 1 - s->after_len;
		size_t k = (size_t)r < room ? (size_t)r : room;
		memcpy(s->after + s->after_len, b, k);
		s->after_len += k;
		s->after[s->after_len] = '\0';
	}
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
 * Joins the server. The test fails when the script did not run to its end
 * without a mismatch, or when what the client sent after it contains one of
 * `forbidden` (NULL-terminated, may be NULL): credentials or changes to mail
 * after a refusal (the hostile cases end with the client giving up).
 */
static inline void server_join(struct server *s, const char *const *forbidden)
{
	pthread_join(s->thread, NULL);
	close(s->lfd);
	if (s->failure[0]) {
		fprintf(stderr, "  server: %s\n", s->failure);
		test_failed_now = 1;
	}
	for (size_t i = 0; forbidden && forbidden[i]; i++) {
		if (memmem(s->after, s->after_len, forbidden[i], strlen(forbidden[i]))) {
			fprintf(stderr, "  server: the client sent \"%s\" after the script: %.200s\n",
				forbidden[i], s->after);
			test_failed_now = 1;
		}
	}
}

/*
 * A listener whose accept queue is full and never served: connecting to
 * it hangs until the client's connect timeout (to test that bound).
 */
struct full_backlog {
	int lfd;
	int fill[4];
	unsigned port;
};

static inline void full_backlog_open(struct full_backlog *fb)
{
	fb->lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof(a);
	if (bind(fb->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fb->lfd, 0) < 0 ||
	    getsockname(fb->lfd, (struct sockaddr *)&a, &al) < 0)
		abort();
	for (int i = 0; i < 4; i++) {
		fb->fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		(void)!connect(fb->fill[i], (struct sockaddr *)&a, sizeof(a));
	}
	struct timespec pause = {0, 100 * 1000000};
	nanosleep(&pause, NULL);
	fb->port = ntohs(a.sin_port);
}

static inline void full_backlog_close(struct full_backlog *fb)
{
	for (int i = 0; i < 4; i++)
		close(fb->fill[i]);
	close(fb->lfd);
}

#endif
