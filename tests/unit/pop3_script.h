/*
 * POP3 helpers for the scripted server (script_server.h): a test account,
 * the usual greeting and login, and a check that nothing resembling a
 * credential went out after a refusal. Included by the POP3 client tests.
 */
#ifndef M2T_TEST_POP3_SCRIPT_H
#define M2T_TEST_POP3_SCRIPT_H

#include "engine/fetch/pop3.h"
#include "tests/unit/script_server.h"

static inline struct config_account account(unsigned port, enum security sec)
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

static inline void finish(struct server *s)
{
	server_join(s, NULL);
}

/* Nothing that looks like a login went out after the script ended. */
static inline void no_credentials_after(const struct server *s)
{
	if (strstr(s->after, "PASS") || strstr(s->after, "AUTH") ||
	    strstr(s->after, "USER") || strstr(s->after, "APOP") ||
	    strstr(s->after, "AGFsaWNl")) {
		fprintf(stderr, "  client sent after a refusal: \"%.200s\"\n", s->after);
		test_failed_now = 1;
	}
}

static inline int connect_err(const struct step *steps, struct config_account *acc,
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

#endif
