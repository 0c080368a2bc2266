/*
 * POP3 client and source driver against a scripted hostile server: STLS
 * injection and downgrades, garbage and NUL, a 10 MB line, no UIDL,
 * duplicate UIDLs, a server that stops mid-RETR or stalls, a message
 * bigger than announced, -ERR on DELE and on QUIT; and each login the way
 * RFC 1939 / 5034 spell it (APOP with the RFC's own example). After every
 * refusal the test checks that no credential was sent.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "engine/fetch/pop3.h"
#include "engine/fetch/source.h"
#include "engine/util/log.h"
#include "tests/unit/script_server.h"
#include "tests/unit/test.h"

static struct config_account account(unsigned port, enum security sec)
{
	static char host[] = "127.0.0.1", user[] = "alice", pass[] = "pw", name[] = "t";
	struct config_account acc;
	memset(&acc, 0, sizeof(acc));
	acc.name = name;
	acc.protocol = PROTO_POP3;
	acc.host = host;
	acc.port = port;
	acc.security = sec;
	acc.tls.verify = true;
	acc.username = user;
	acc.password = pass;
	acc.timeout_ms = 2000;
	return acc;
}

#define CAPA(lines) EXPECT("CAPA"), SEND("+OK\r\n" lines ".\r\n")
#define GREET_LOGIN(caps)                                                              \
	SEND("+OK POP3 ready\r\n"), CAPA(caps),                                        \
	EXPECT("AUTH PLAIN AGFsaWNlAHB3"), SEND("+OK logged in\r\n")
#define FULL_CAPS "UIDL\r\nSASL PLAIN LOGIN\r\nUSER\r\n"

static void finish(struct server *s)
{
	server_join(s, NULL);
}

/* Nothing that looks like a login went out after the script ended. */
static void no_credentials_after(const struct server *s)
{
	if (strstr(s->after, "PASS") || strstr(s->after, "AUTH") ||
	    strstr(s->after, "USER") || strstr(s->after, "APOP") ||
	    strstr(s->after, "AGFsaWNl")) {
		fprintf(stderr, "  client sent after a refusal: \"%.200s\"\n", s->after);
		test_failed_now = 1;
	}
}

static int connect_err(const struct step *steps, struct config_account *acc,
		       struct server *s, struct err *err)
{
	server_start(s, steps);
	acc->port = s->port;
	struct pop3_client *c = NULL;
	int r = pop3_connect(acc, NULL, &c, err);
	pop3_client_free(&c);
	finish(s);
	return r;
}

TEST(stls_injection_refused)
{
	static const struct step steps[] = {
		SEND("+OK hi\r\n"), CAPA("STLS\r\nUIDL\r\nSASL PLAIN\r\n"), EXPECT("STLS"),
		SEND("+OK Begin TLS\r\n+OK injected, welcome\r\n"), END,
	};
	struct server s;
	struct config_account acc = account(0, SEC_STARTTLS);
	struct err err = {0};
	CHECK(connect_err(steps, &acc, &s, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "injection") != NULL);
	no_credentials_after(&s);
}

TEST(stls_missing_or_refused)
{
	static const struct step missing[] = {
		SEND("+OK hi\r\n"), CAPA("UIDL\r\nSASL PLAIN\r\nUSER\r\n"), END,
	};
	static const struct step refused[] = {
		SEND("+OK hi\r\n"), CAPA("STLS\r\nUIDL\r\n"), EXPECT("STLS"),
		SEND("-ERR not now\r\n"), END,
	};
	/* an RFC 1939 server without CAPA is still asked, and refuses */
	static const struct step no_capa[] = {
		SEND("+OK hi\r\n"), EXPECT("CAPA"), SEND("-ERR what?\r\n"), EXPECT("STLS"),
		SEND("-ERR what?\r\n"), END,
	};
	const struct step *cases[] = {missing, refused, no_capa};
	for (size_t i = 0; i < 3; i++) {
		struct server s;
		struct config_account acc = account(0, SEC_STARTTLS);
		struct err err = {0};
		CHECK(connect_err(cases[i], &acc, &s, &err) < 0);
		CHECK_INT(err.cls, ERR_SOURCE);
		CHECK(strstr(err.msg, "STLS") != NULL);
		no_credentials_after(&s);
	}
}

TEST(greeting_garbage_nul_and_refusal)
{
	static const struct step garbage[] = {SEND("* OK IMAP4rev1 here\r\n"), END};
	static const struct step nul[] = {SEND("+OK \0\0\0\r\n"), END};
	static const struct step busy[] = {SEND("-ERR [SYS/TEMP] too busy\r\n"), END};
	static const struct step closed[] = {END};
	struct server s;
	struct config_account acc = account(0, SEC_NONE);
	struct err err = {0};
	CHECK(connect_err(garbage, &acc, &s, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "did not greet as a POP3 server") != NULL);
	no_credentials_after(&s);
	CHECK(connect_err(nul, &acc, &s, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "NUL") != NULL);
	CHECK(connect_err(busy, &acc, &s, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	CHECK(strstr(err.msg, "too busy") != NULL);
	CHECK(connect_err(closed, &acc, &s, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
}

TEST(ten_megabyte_line_refused_early)
{
	size_t n = 10u << 20;
	char *big = malloc(n);
	memset(big, 'A', n);
	memcpy(big, "+OK ", 4);
	const struct step steps[] = {SEND_N(big, n), END};
	struct server s;
	struct config_account acc = account(0, SEC_NONE);
	struct err err = {0};
	CHECK(connect_err(steps, &acc, &s, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "too long") != NULL);
	no_credentials_after(&s);
	free(big);
}

struct login_case {
	const char *name;
	enum auth_method auth;
	const char *greeting;
	const char *user, *pass;
	struct step steps[9];
	const char *used;
};

TEST(each_login_as_specified)
{
	static const struct login_case cases[] = {
		{"plain, initial response", AUTH_AUTO, NULL, "alice", "pw",
		 {CAPA(FULL_CAPS), EXPECT("AUTH PLAIN AGFsaWNlAHB3"), SEND("+OK in\r\n"), END},
		 "AUTH PLAIN"},
		{"login, two prompts", AUTH_LOGIN, NULL, "alice", "pw",
		 {CAPA(FULL_CAPS), EXPECT("AUTH LOGIN"), SEND("+ VXNlcm5hbWU6\r\n"),
		  EXPECT("YWxpY2U="), SEND("+ UGFzc3dvcmQ6\r\n"), EXPECT("cHc="), SEND("+OK in\r\n"),
		  END},
		 "AUTH LOGIN"},
		/* RFC 1939 section 7's own example */
		{"apop", AUTH_AUTO, "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
		 "mrose", "tanstaaf",
		 {CAPA(FULL_CAPS), EXPECT("APOP mrose c4c9334bac560ecc979e58001b3e22fb"),
		  SEND("+OK maildrop has 1 message\r\n"), END},
		 "APOP"},
		{"user/pass, no CAPA", AUTH_AUTO, NULL, "alice", "pw",
		 {EXPECT("CAPA"), SEND("-ERR unknown\r\n"), EXPECT("USER alice"), SEND("+OK\r\n"),
		  EXPECT("PASS pw"), SEND("+OK in\r\n"), END},
		 "USER/PASS"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct login_case *lc = &cases[i];
		struct step steps[10];
		static const struct step hello = SEND("+OK POP3 ready\r\n");
		steps[0] = hello;
		if (lc->greeting) {
			steps[0].data = lc->greeting;
			steps[0].len = strlen(lc->greeting);
		}
		memcpy(steps + 1, lc->steps, sizeof(lc->steps));
		struct server s;
		server_start(&s, steps);
		struct config_account acc = account(s.port, SEC_NONE);
		char user[32], pass[32];
		snprintf(user, sizeof(user), "%s", lc->user);
		snprintf(pass, sizeof(pass), "%s", lc->pass);
		acc.username = user;
		acc.password = pass;
		acc.auth = lc->auth;
		struct pop3_client *c = NULL;
		struct err err = {0};
		if (pop3_connect(&acc, NULL, &c, &err) < 0) {
			fprintf(stderr, "  %s: %s\n", lc->name, err.msg);
			test_failed_now = 1;
		} else {
			CHECK_STR(pop3_login_used(c), lc->used);
		}
		pop3_client_free(&c);
		finish(&s);
	}
}

TEST(login_refusals_by_code)
{
	static const struct step auth[] = {
		SEND("+OK hi\r\n"), CAPA(FULL_CAPS), EXPECT("AUTH PLAIN AGFsaWNlAHB3"),
		SEND("-ERR [AUTH] Authentication failed.\r\n"), END,
	};
	static const struct step in_use[] = {
		SEND("+OK hi\r\n"), CAPA(FULL_CAPS), EXPECT("AUTH PLAIN AGFsaWNlAHB3"),
		SEND("-ERR [IN-USE] Mailbox locked by another session\r\n"), END,
	};
	static const struct step apop_missing[] = {SEND("+OK hi\r\n"), CAPA(FULL_CAPS), END};
	struct server s;
	struct config_account acc = account(0, SEC_NONE);
	struct err err = {0};
	CHECK(connect_err(auth, &acc, &s, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "Authentication failed") && strstr(err.msg, "\"alice\""));
	CHECK(strstr(err.msg, "pw\"") == NULL);
	CHECK(connect_err(in_use, &acc, &s, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	acc.auth = AUTH_APOP;
	CHECK(connect_err(apop_missing, &acc, &s, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "APOP") != NULL);
	no_credentials_after(&s);
}

/* Runs a logged-in session: connect, then fn(c), then free (no QUIT). */
static void session(const struct step *steps, const struct pop3_limits *lim,
		    void (*fn)(struct pop3_client *c))
{
	struct server s;
	server_start(&s, steps);
	struct config_account acc = account(s.port, SEC_NONE);
	struct pop3_client *c = NULL;
	struct err err = {0};
	if (pop3_connect(&acc, lim, &c, &err) < 0) {
		fprintf(stderr, "  connect: %s\n", err.msg);
		test_failed_now = 1;
	} else {
		fn(c);
	}
	pop3_client_free(&c);
	finish(&s);
}

static void expect_no_uidl(struct pop3_client *c)
{
	const struct pop3_msg *v;
	size_t n;
	struct err err = {0};
	CHECK(pop3_list_messages(c, &v, &n, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "UIDL") != NULL);
}

TEST(server_without_uidl_refused)
{
	/* CAPA says no UIDL: refused before asking */
	static const struct step listed[] = {
		GREET_LOGIN("SASL PLAIN\r\nUSER\r\n"), EXPECT("STAT"), SEND("+OK 2 300\r\n"), END,
	};
	/* no CAPA at all: UIDL is tried, refused */
	static const struct step tried[] = {
		SEND("+OK hi\r\n"), EXPECT("CAPA"), SEND("-ERR no\r\n"), EXPECT("USER alice"),
		SEND("+OK\r\n"), EXPECT("PASS pw"), SEND("+OK\r\n"), EXPECT("STAT"),
		SEND("+OK 2 300\r\n"), EXPECT("UIDL"), SEND("-ERR command not supported\r\n"), END,
	};
	/* an empty maildrop is refused just the same, not at its first mail */
	static const struct step empty[] = {
		GREET_LOGIN("SASL PLAIN\r\n"), EXPECT("STAT"), SEND("+OK 0 0\r\n"), END,
	};
	session(listed, NULL, expect_no_uidl);
	session(tried, NULL, expect_no_uidl);
	session(empty, NULL, expect_no_uidl);
}

static void list_checks(struct pop3_client *c)
{
	const struct pop3_msg *v;
	size_t n = 0;
	struct err err = {0};
	CHECK_INT(pop3_list_messages(c, &v, &n, &err), 0);
	/* 2 and 4 share a UIDL: both left out; 5 is missing from LIST */
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_INT(v[0].number, 1);
		CHECK_STR(v[0].uidl, "whqtswO00WBw418f9t5JxYwZ");
		CHECK_INT(v[0].size, 120);
		CHECK_INT(v[1].number, 3);
		CHECK_STR(v[1].uidl, "QhdPYR:00WBw1Ph7x7");
		CHECK_INT(v[1].size, 200);
	}
}

TEST(listing_uidl_and_sizes)
{
	static const struct step steps[] = {
		GREET_LOGIN(FULL_CAPS), EXPECT("STAT"), SEND("+OK 5 1000\r\n"), EXPECT("UIDL"),
		SEND("+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 same\r\n3 QhdPYR:00WBw1Ph7x7\r\n"
		     "4 same\r\n5 lonely\r\n.\r\n"),
		EXPECT("LIST"), SEND("+OK 5 messages\r\n1 120\r\n2 10\r\n3 200 extra\r\n4 10\r\n.\r\n"),
		END,
	};
	session(steps, NULL, list_checks);
}

static void bad_listing(struct pop3_client *c)
{
	const struct pop3_msg *v;
	size_t n;
	struct err err = {0};
	CHECK(pop3_list_messages(c, &v, &n, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "protocol error") != NULL);
}

TEST(bad_listings_refused)
{
	/* a UIDL with a space, one too long, a number past STAT, a huge size */
	static const struct step space[] = {
		GREET_LOGIN(FULL_CAPS), EXPECT("STAT"), SEND("+OK 1 10\r\n"), EXPECT("UIDL"),
		SEND("+OK\r\n1 a b\r\n.\r\n"), END,
	};
	static const struct step too_long[] = {
		GREET_LOGIN(FULL_CAPS), EXPECT("STAT"), SEND("+OK 1 10\r\n"), EXPECT("UIDL"),
		SEND("+OK\r\n1 12345678901234567890123456789012345678901234567890123456789012345678901\r\n.\r\n"),
		END,
	};
	static const struct step past[] = {
		GREET_LOGIN(FULL_CAPS), EXPECT("STAT"), SEND("+OK 1 10\r\n"), EXPECT("UIDL"),
		SEND("+OK\r\n2 x\r\n.\r\n"), END,
	};
	static const struct step size[] = {
		GREET_LOGIN(FULL_CAPS), EXPECT("STAT"), SEND("+OK 1 10\r\n"), EXPECT("UIDL"),
		SEND("+OK\r\n1 x\r\n.\r\n"), EXPECT("LIST"),
		SEND("+OK\r\n1 99999999999999999999\r\n.\r\n"), END,
	};
	/* a listing far longer than STAT's count allows */
	static const struct step flood[] = {
		GREET_LOGIN(FULL_CAPS), EXPECT("STAT"), SEND("+OK 1 10\r\n"), EXPECT("UIDL"),
		SEND("+OK\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n"
		     "1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n"
		     "1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n1 x\r\n"
		     "1 x\r\n1 x\r\n1 x\r\n1 x\r\n.\r\n"),
		END,
	};
	session(space, NULL, bad_listing);
	session(too_long, NULL, bad_listing);
	session(past, NULL, bad_listing);
	session(size, NULL, bad_listing);
	session(flood, NULL, bad_listing);
}

struct bodies {
	int calls;
	size_t len;
	bool was_null;
	char first[64];
};

static int body_cb(void *ud, uint32_t number, const char *raw, size_t len, struct err *err)
{
	struct bodies *b = ud;
	(void)number;
	(void)err;
	b->calls++;
	b->len = len;
	b->was_null = raw == NULL;
	if (raw)
		snprintf(b->first, sizeof(b->first), "%.*s", (int)(len < 63 ? len : 63), raw);
	return 0;
}

static void retr_stops(struct pop3_client *c)
{
	struct bodies b = {0};
	struct err err = {0};
	CHECK(pop3_retr(c, 1, body_cb, &b, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	CHECK_INT(b.calls, 0);
	CHECK(!pop3_usable(c));
	/* and no DELE can follow on a broken session */
	CHECK(pop3_dele(c, 1, &err) < 0);
	CHECK(pop3_quit(c, &err) < 0);
}

TEST(server_stops_mid_retr)
{
	static const struct step steps[] = {
		GREET_LOGIN(FULL_CAPS), EXPECT("RETR 1"),
		SEND("+OK 500 octets\r\nSubject: cut\r\n\r\nhalf a bo"), END,
	};
	session(steps, NULL, retr_stops);
}

static void retr_stalls(struct pop3_client *c)
{
	struct bodies b = {0};
	struct err err = {0};
	CHECK(pop3_retr(c, 1, body_cb, &b, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	CHECK(strstr(err.msg, "timed out") != NULL);
	CHECK_INT(b.calls, 0);
}

TEST(server_stalls_mid_retr)
{
	static const struct step steps[] = {
		GREET_LOGIN(FULL_CAPS), EXPECT("RETR 1"), SEND("+OK\r\nSubject: slow\r\n"),
		SLEEP(2600), END,
	};
	session(steps, NULL, retr_stalls);
}

static void retr_sizes(struct pop3_client *c)
{
	struct bodies b = {0};
	struct err err = {0};
	/* 20 bytes against a limit of 16: read to the end, reported, not kept */
	CHECK_INT(pop3_retr(c, 1, body_cb, &b, &err), 0);
	CHECK_INT(b.calls, 1);
	CHECK(b.was_null);
	CHECK_INT(b.len, 20);
	/* the session goes on: the next message comes whole, dots unstuffed */
	memset(&b, 0, sizeof(b));
	CHECK_INT(pop3_retr(c, 2, body_cb, &b, &err), 0);
	CHECK_INT(b.calls, 1);
	CHECK(!b.was_null);
	CHECK_STR(b.first, "a\r\n.b\r\n");
	/* -ERR: skipped, nothing delivered, the session still fine */
	memset(&b, 0, sizeof(b));
	CHECK_INT(pop3_retr(c, 3, body_cb, &b, &err), 0);
	CHECK_INT(b.calls, 0);
	CHECK(pop3_usable(c));
	/* more than twice the limit: the session cannot be kept */
	CHECK(pop3_retr(c, 4, body_cb, &b, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK_INT(b.calls, 0);
}

TEST(retr_bigger_than_announced)
{
	static const struct step steps[] = {
		GREET_LOGIN(FULL_CAPS),
		EXPECT("RETR 1"), SEND("+OK 5 octets\r\n0123456789\r\n123456\r\n.\r\n"),
		EXPECT("RETR 2"), SEND("+OK\r\na\r\n..b\r\n.\r\n"),
		EXPECT("RETR 3"), SEND("-ERR no such message\r\n"),
		EXPECT("RETR 4"), SEND("+OK\r\n0123456789012345678901234567890123456789\r\n.\r\n"),
		END,
	};
	struct pop3_limits lim = {.max_message = 16};
	session(steps, &lim, retr_sizes);
}

static void dele_and_quit(struct pop3_client *c)
{
	struct err err = {0};
	CHECK_INT(pop3_dele(c, 1, &err), 0);
	CHECK(pop3_dele(c, 2, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	CHECK(strstr(err.msg, "DELE 2") != NULL);
	CHECK(pop3_usable(c));
	CHECK(pop3_quit(c, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	CHECK(strstr(err.msg, "deletions not applied") != NULL);
	CHECK(!pop3_usable(c));
}

TEST(dele_and_quit_refused)
{
	static const struct step steps[] = {
		GREET_LOGIN(FULL_CAPS), EXPECT("DELE 1"), SEND("+OK marked\r\n"), EXPECT("DELE 2"),
		SEND("-ERR message 2 already deleted\r\n"), EXPECT("QUIT"),
		SEND("-ERR [SYS/PERM] some deleted messages not removed\r\n"), END,
	};
	session(steps, NULL, dele_and_quit);
}

/* The source driver: ids by listing position, DELE after the others fail, QUIT. */
static int open_source(struct server *s, const struct step *steps, struct source **src,
		       struct config_account *acc, struct config_job *job)
{
	static char name[] = "pop-job", inbox[] = "INBOX";
	server_start(s, steps);
	*acc = account(s->port, SEC_NONE);
	memset(job, 0, sizeof(*job));
	job->name = name;
	job->account = acc;
	job->mailbox = inbox;
	job->batch_size = 10;
	struct source_limits lim = {.max_message = 1000};
	struct err err = {0};
	if (source_open(job, SOURCE_READ_WRITE, &lim, src, &err) < 0) {
		fprintf(stderr, "  open: %s\n", err.msg);
		return -1;
	}
	return 0;
}

#define LISTING3                                                                       \
	EXPECT("STAT"), SEND("+OK 3 30\r\n"), EXPECT("UIDL"),                          \
	SEND("+OK\r\n1 u-one\r\n2 u-two\r\n3 u-three\r\n.\r\n"), EXPECT("LIST"),       \
	SEND("+OK\r\n1 10\r\n2 10\r\n3 5000\r\n.\r\n")

static int count_bodies(void *ud, uint32_t id, const char *raw, size_t len, struct err *err)
{
	int *n = ud;
	(void)err;
	(void)len;
	if (raw && id == 2)
		(*n)++;
	return 0;
}

TEST(source_dele_continues_and_quit_decides)
{
	static const struct step steps[] = {
		GREET_LOGIN(FULL_CAPS), LISTING3,
		EXPECT("RETR 2"), SEND("+OK\r\nSubject: two\r\n\r\nx\r\n.\r\n"),
		EXPECT("DELE 1"), SEND("-ERR [SYS/TEMP] busy\r\n"),
		EXPECT("DELE 2"), SEND("+OK\r\n"), EXPECT("DELE 3"), SEND("+OK\r\n"),
		EXPECT("QUIT"), SEND("+OK bye, 2 deleted\r\n"), END,
	};
	struct server s;
	struct config_account acc;
	struct config_job job;
	struct source *src = NULL;
	if (open_source(&s, steps, &src, &acc, &job) == 0) {
		const struct source_info *info = source_info(src);
		CHECK_STR(info->kind, "pop3");
		CHECK_STR(info->mailbox, "INBOX");
		CHECK_INT(info->identity, SOURCE_ID_KEY);
		CHECK(info->badmail_stays);
		const struct source_msg *v;
		size_t n = 0;
		struct err err = {0};
		CHECK_INT(source_list(src, &v, &n, &err), 0);
		CHECK_INT(n, 3);
		if (n == 3) {
			CHECK(v[0].id == 1 && v[1].id == 2 && v[2].id == 3);
			CHECK_STR(v[2].key, "u-three");
			CHECK_INT(v[2].size, 5000);
		}
		int got = 0;
		uint32_t ids[] = {2, 2};
		CHECK_INT(source_fetch(src, ids, 2, count_bodies, &got, &err), 0);
		CHECK_INT(got, 1);
		/* POP3 has no folders for rules: refused, nothing sent */
		const char *folders[] = {"Newsletters"};
		CHECK(source_prepare_folders(src, folders, 1, &err) < 0);
		CHECK_INT(err.cls, ERR_FATAL);
		CHECK(source_dispose(src, ids, 1, SOURCE_FOLDER, "Newsletters", &err) < 0);
		CHECK_INT(err.cls, ERR_FATAL);
		/* badmail stays: nothing is sent */
		uint32_t bad[] = {1};
		CHECK_INT(source_dispose(src, bad, 1, SOURCE_BADMAIL, NULL, &err), 0);
		uint32_t all[] = {1, 2, 3};
		CHECK(source_dispose(src, all, 3, SOURCE_ARCHIVE, NULL, &err) < 0);
		CHECK_INT(err.cls, ERR_TRANSIENT);
		CHECK(strstr(err.msg, "DELE 1") != NULL);
		CHECK_INT(source_close(&src, &err), 0);
		CHECK(src == NULL);
	}
	source_close(&src, NULL);
	finish(&s);
}

TEST(source_quit_failure_after_deletions_is_reported)
{
	static const struct step steps[] = {
		GREET_LOGIN(FULL_CAPS), LISTING3, EXPECT("DELE 3"), SEND("+OK\r\n"),
		EXPECT("QUIT"), SEND("-ERR could not update the maildrop\r\n"), END,
	};
	static const struct step nothing_deleted[] = {
		GREET_LOGIN(FULL_CAPS), EXPECT("QUIT"), SEND("-ERR odd\r\n"), END,
	};
	struct server s;
	struct config_account acc;
	struct config_job job;
	struct source *src = NULL;
	struct err err = {0};
	if (open_source(&s, steps, &src, &acc, &job) == 0) {
		const struct source_msg *v;
		size_t n;
		CHECK_INT(source_list(src, &v, &n, &err), 0);
		uint32_t ids[] = {3};
		CHECK_INT(source_dispose(src, ids, 1, SOURCE_ARCHIVE, NULL, &err), 0);
		CHECK(source_close(&src, &err) < 0);
		CHECK_INT(err.cls, ERR_TRANSIENT);
		CHECK(strstr(err.msg, "deletions not applied") != NULL);
	}
	source_close(&src, NULL);
	finish(&s);
	/* nothing was deleted: a failed QUIT loses nothing */
	if (open_source(&s, nothing_deleted, &src, &acc, &job) == 0)
		CHECK_INT(source_close(&src, &err), 0);
	source_close(&src, NULL);
	finish(&s);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_ERROR);
	RUN(stls_injection_refused);
	RUN(stls_missing_or_refused);
	RUN(greeting_garbage_nul_and_refusal);
	RUN(ten_megabyte_line_refused_early);
	RUN(each_login_as_specified);
	RUN(login_refusals_by_code);
	RUN(server_without_uidl_refused);
	RUN(listing_uidl_and_sizes);
	RUN(bad_listings_refused);
	RUN(server_stops_mid_retr);
	RUN(server_stalls_mid_retr);
	RUN(retr_bigger_than_announced);
	RUN(dele_and_quit_refused);
	RUN(source_dele_continues_and_quit_decides);
	RUN(source_quit_failure_after_deletions_is_reported);
	log_clear_secrets();
	return test_summary();
}
