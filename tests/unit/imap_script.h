/*
 * IMAP helpers for the scripted server (script_server.h): a test account,
 * the usual login/SELECT/LOGOUT exchanges, and sessions that check the
 * server afterwards. Included by the IMAP client tests only.
 */
#ifndef M2T_TEST_IMAP_SCRIPT_H
#define M2T_TEST_IMAP_SCRIPT_H

#include "engine/fetch/imap.h"
#include "tests/unit/script_server.h"

/* After a refusal, no credentials and no change to mail may follow. */
static inline void server_finish(struct server *s)
{
	static const char *const forbidden[] = {
		"LOGIN", "AUTHENTICATE", "AGFsaWNlAHB3", "MOVE", "COPY", "STORE", "EXPUNGE", NULL,
	};
	server_join(s, forbidden);
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
