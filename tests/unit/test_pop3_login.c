/*
 * POP3 connecting and logging in against a scripted hostile server
 * (script_server.h): STLS injection, stripped or refused STLS under
 * `starttls` and `starttls-optional`, every login the way RFC 1939 and
 * RFC 5034 spell it (APOP and CRAM-MD5 with the RFCs' own examples),
 * auth: auto's choice, SASL exchanges a server breaks (bad base64, "+OK"
 * before SCRAM finished, challenges after the end, a cancel it will not
 * take), AUTH lines kept out of the log, and the three timeouts. After
 * every refusal the test checks that no credential was sent.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/util/log.h"
#include "tests/unit/pop3_script.h"

/* stderr into a file while fn runs at `level`; returns what was logged (malloc'd). */
static char *logged(enum log_level level, void (*fn)(void *), void *ud)
{
	char path[] = "/tmp/m2t-pop3-log-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		abort();
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	enum log_level was = log_get_level();
	log_set_level(level);
	fn(ud);
	log_set_level(was);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	off_t len = lseek(fd, 0, SEEK_END);
	char *out = calloc(1, (size_t)len + 1);
	if (pread(fd, out, (size_t)len, 0) != len)
		out[0] = '\0';
	close(fd);
	unlink(path);
	return out;
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


/* STLS accepted, then no TLS handshake: nothing more goes out in plaintext. */
TEST(stls_handshake_failure_sends_nothing)
{
	static const struct step steps[] = {
		SEND("+OK hi\r\n"), CAPA("STLS\r\nUIDL\r\nSASL PLAIN\r\n"), EXPECT("STLS"),
		SEND("+OK Begin TLS\r\n"), CLOSE,
	};
	enum security modes[] = {SEC_STARTTLS, SEC_STARTTLS_OPTIONAL};
	for (size_t i = 0; i < 2; i++) {
		struct server s;
		struct config_account acc = account(0, modes[i]);
		struct err err = {0};
		CHECK(connect_err(steps, &acc, &s, &err) < 0);
		CHECK(strstr(err.msg, "TLS") != NULL);
		no_credentials_after(&s);
	}
}

struct optional_run {
	const struct step *steps;
	enum auth_method auth;
	int rc;
	struct err err;
	char used[48];
	struct server s;
};

static void optional_connect(void *ud)
{
	struct optional_run *o = ud;
	server_start(&o->s, o->steps);
	struct config_account acc = account(o->s.port, SEC_STARTTLS_OPTIONAL);
	static char user[] = "tim", pass[] = "tanstaaftanstaaf";
	acc.username = user;
	acc.password = pass;
	acc.auth = o->auth;
	struct pop3_client *c = NULL;
	o->rc = pop3_connect(&acc, NULL, &c, &o->err);
	snprintf(o->used, sizeof(o->used), "%s", c ? pop3_login_used(c) : "");
	pop3_client_free(&c);
	finish(&o->s);
}

/*
 * starttls-optional: a server without STLS (or one that refuses it) is
 * used in plaintext with a warning each time, but no login that shows the
 * password is made; challenge-response logins still work.
 */
TEST(starttls_optional_falls_back_without_showing_the_password)
{
	static const struct step cram[] = {
		SEND("+OK hi\r\n"), CAPA("UIDL\r\nUSER\r\nSASL PLAIN LOGIN CRAM-MD5\r\n"),
		EXPECT("AUTH CRAM-MD5"),
		SEND("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"),
		EXPECT("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"), SEND("+OK in\r\n"), END,
	};
	struct optional_run o = {.steps = cram};
	char *log = logged(LOG_WARN, optional_connect, &o);
	CHECK_INT(o.rc, 0);
	CHECK_STR(o.used, "AUTH CRAM-MD5");
	CHECK(strstr(log, "event=pop3.starttls_skipped") && strstr(log, "does not offer STLS") &&
	      strstr(log, "WITHOUT encryption"));
	free(log);

	/* refused STLS, an APOP challenge: APOP */
	static const struct step apop[] = {
		SEND("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"),
		CAPA("STLS\r\nUIDL\r\nUSER\r\nSASL PLAIN\r\n"), EXPECT("STLS"),
		SEND("-ERR [SYS/TEMP] no certificate\r\n"),
		EXPECT("APOP tim 37517402d6b6d7ada3d4f84c36854c32"), SEND("+OK in\r\n"), END,
	};
	memset(&o, 0, sizeof(o));
	o.steps = apop;
	log = logged(LOG_WARN, optional_connect, &o);
	CHECK_INT(o.rc, 0);
	CHECK_STR(o.used, "APOP");
	CHECK(strstr(log, "refused STLS (no certificate)") != NULL);
	free(log);

	/* only PLAIN and USER offered: refused before anything is sent */
	static const struct step plain_only[] = {
		SEND("+OK hi\r\n"), CAPA("UIDL\r\nUSER\r\nSASL PLAIN LOGIN\r\n"), END,
	};
	enum auth_method auths[] = {AUTH_AUTO, AUTH_PLAIN, AUTH_LOGIN, AUTH_USER, AUTH_XOAUTH2};
	const char *why[] = {
		"offers no login that keeps the password secret",
		"auth: plain would send the password unencrypted",
		"auth: login would send the password unencrypted",
		"auth: user would send the password unencrypted",
		"auth: xoauth2 would send the token unencrypted",
	};
	for (size_t i = 0; i < 5; i++) {
		memset(&o, 0, sizeof(o));
		o.steps = plain_only;
		o.auth = auths[i];
		free(logged(LOG_ERROR, optional_connect, &o));
		CHECK(o.rc < 0);
		CHECK_INT(o.err.cls, ERR_SOURCE);
		if (!strstr(o.err.msg, why[i])) {
			fprintf(stderr, "  auth %d: %s\n", (int)auths[i], o.err.msg);
			test_failed_now = 1;
		}
		no_credentials_after(&o.s);
	}
}

struct login_case {
	const char *name;
	enum auth_method auth;
	const char *greeting;
	const char *user, *pass;
	struct step steps[12];
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
		/* RFC 2195's example; CRAM-MD5 keeps the password off the wire: before PLAIN */
		{"cram-md5", AUTH_AUTO, NULL, "tim", "tanstaaftanstaaf",
		 {CAPA("UIDL\r\nSASL PLAIN LOGIN CRAM-MD5\r\n"), EXPECT("AUTH CRAM-MD5"),
		  SEND("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"),
		  EXPECT("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"), SEND("+OK in\r\n"), END},
		 "AUTH CRAM-MD5"},
		/* ... and before APOP, though the greeting offers a challenge */
		{"cram-md5 over apop", AUTH_AUTO,
		 "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n", "tim",
		 "tanstaaftanstaaf",
		 {CAPA("UIDL\r\nSASL CRAM-MD5\r\n"), EXPECT("AUTH CRAM-MD5"),
		  SEND("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"),
		  EXPECT("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"), SEND("+OK in\r\n"), END},
		 "AUTH CRAM-MD5"},
		/* no SASL in CAPA: no initial response, the server's "+ " asks for it */
		{"plain, no initial response", AUTH_PLAIN, NULL, "alice", "pw",
		 {CAPA("UIDL\r\nUSER\r\n"), EXPECT("AUTH PLAIN"), SEND("+ \r\n"),
		  EXPECT("AGFsaWNlAHB3"), SEND("+OK in\r\n"), END},
		 "AUTH PLAIN"},
		/* RFC 5034: a command line is at most 255 octets; the response waits for "+" */
		{"plain, initial response too long", AUTH_AUTO, NULL,
		 "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu", "pw",
		 {CAPA(FULL_CAPS), EXPECT("AUTH PLAIN"), SEND("+\r\n"),
		  EXPECT("AHV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1AHB3"),
		  SEND("+OK in\r\n"), END},
		 "AUTH PLAIN"},
		/* Google's and Microsoft's token login, the token in the first message */
		{"xoauth2", AUTH_XOAUTH2, NULL, "alice", "pw",
		 {CAPA("UIDL\r\nSASL XOAUTH2 OAUTHBEARER\r\n"),
		  EXPECT("AUTH XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciBwdwEB"), SEND("+OK in\r\n"), END},
		 "AUTH XOAUTH2"},
		{"oauthbearer", AUTH_OAUTHBEARER, NULL, "alice", "pw",
		 {CAPA("UIDL\r\nSASL XOAUTH2 OAUTHBEARER\r\n"),
		  EXPECT_PREFIX("AUTH OAUTHBEARER bixhPWFsaWNlLAFob3N0PTEyNy4wLjAuMQFwb3J0"),
		  SEND("+OK in\r\n"), END},
		 "AUTH OAUTHBEARER"},
		/* Exchange's NTLM: type 1, the server's type 2, type 3 */
		{"ntlm", AUTH_NTLM, NULL, "EXAMPLE\\alice", "pw",
		 {CAPA("UIDL\r\nSASL NTLM GSSAPI\r\n"), EXPECT("AUTH NTLM"), SEND("+ \r\n"),
		  EXPECT_PREFIX("TlRMTVNTUAAB"),
		  SEND("+ TlRMTVNTUAACAAAAAAAAACgAAAABggAAASNFZ4mrze8AAAAAAAAAAAAAAAAAAAAA\r\n"),
		  EXPECT_PREFIX("TlRMTVNTUAAD"), SEND("+OK in\r\n"), END},
		 "AUTH NTLM"},
		{"user/pass, no CAPA", AUTH_AUTO, NULL, "alice", "pw",
		 {EXPECT("CAPA"), SEND("-ERR unknown\r\n"), EXPECT("USER alice"), SEND("+OK\r\n"),
		  EXPECT("PASS pw"), SEND("+OK in\r\n"), END},
		 "USER/PASS"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct login_case *lc = &cases[i];
		struct step steps[13];
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
		char user[256], pass[32];
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
/* auth: auto takes the strongest mechanism CAPA lists: SCRAM-SHA-256 over the rest. */
TEST(auto_prefers_scram)
{
	static const struct step steps[] = {
		SEND("+OK hi <1.2@host>\r\n"),
		CAPA("UIDL\r\nSASL PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256\r\n"),
		EXPECT_PREFIX("AUTH SCRAM-SHA-256 biwsbj1hbGljZSxy"),
		SEND("-ERR [AUTH] no such user\r\n"), END,
	};
	struct server s;
	struct config_account acc = account(0, SEC_NONE);
	struct err err = {0};
	CHECK(connect_err(steps, &acc, &s, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "(AUTH SCRAM-SHA-256) refused") != NULL);
	CHECK(strstr(err.msg, "no such user") != NULL);
	no_credentials_after(&s);
}

/*
 * A server that breaks the SASL exchange: each ends in a clear error, the
 * exchange cancelled with "*" where the server waits for an answer, and
 * no session is used afterwards.
 */
TEST(sasl_exchanges_a_server_breaks)
{
	/* "+OK" before SCRAM's server proof: the server may not know the password */
	static const struct step early[] = {
		SEND("+OK hi\r\n"), CAPA("UIDL\r\nSASL SCRAM-SHA-256\r\n"),
		EXPECT_PREFIX("AUTH SCRAM-SHA-256 biws"), SEND("+OK welcome\r\n"), END,
	};
	/* a server-first message that is not base64 */
	static const struct step garbage[] = {
		SEND("+OK hi\r\n"), CAPA("UIDL\r\nSASL SCRAM-SHA-1\r\n"),
		EXPECT_PREFIX("AUTH SCRAM-SHA-1 biws"), SEND("+ %%%not-base64%%%\r\n"),
		EXPECT("*"), SEND("-ERR canceled\r\n"), END,
	};
	/* a server nonce that does not extend the client's */
	static const struct step nonce[] = {
		SEND("+OK hi\r\n"), CAPA("UIDL\r\nSASL SCRAM-SHA-1\r\n"),
		EXPECT_PREFIX("AUTH SCRAM-SHA-1 biws"),
		SEND("+ cj1ib2d1cy1ub25jZSxzPVFTWENSK1E2c2VrOGJmOTIsaT00MDk2\r\n"),
		EXPECT("*"), SEND("-ERR canceled\r\n"), END,
	};
	/* a challenge after LOGIN has given both answers */
	static const struct step after_end[] = {
		SEND("+OK hi\r\n"), CAPA("UIDL\r\nSASL LOGIN\r\n"), EXPECT("AUTH LOGIN"),
		SEND("+ VXNlcm5hbWU6\r\n"), EXPECT("YWxpY2U="), SEND("+ UGFzc3dvcmQ6\r\n"),
		EXPECT("cHc="), SEND("+ bW9yZT8=\r\n"), EXPECT("*"), SEND("-ERR canceled\r\n"), END,
	};
	/* the cancel is not taken: the session is out of step */
	static const struct step no_cancel[] = {
		SEND("+OK hi\r\n"), CAPA("UIDL\r\nSASL SCRAM-SHA-1\r\n"),
		EXPECT_PREFIX("AUTH SCRAM-SHA-1 biws"), SEND("+ %%%\r\n"), EXPECT("*"),
		SEND("+ again\r\n"), END,
	};
	/* the initial response held back (too long), and a challenge comes first */
	static const struct step first[] = {
		SEND("+OK hi\r\n"), CAPA("UIDL\r\nSASL PLAIN\r\n"), EXPECT("AUTH PLAIN"),
		SEND("+ c2F5IHNvbWV0aGluZw==\r\n"), EXPECT("*"), SEND("-ERR canceled\r\n"), END,
	};
	/* an OAuth server's refusal: its JSON reason in the error */
	static const struct step oauth[] = {
		SEND("+OK hi\r\n"), CAPA("UIDL\r\nSASL XOAUTH2\r\n"),
		EXPECT("AUTH XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciBwdwEB"),
		SEND("+ eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIn0=\r\n"), EXPECT(""),
		SEND("-ERR [AUTH] Invalid credentials\r\n"), END,
	};
	static const struct {
		const struct step *steps;
		enum auth_method auth;
		const char *why;
	} cases[] = {
		{early, AUTH_AUTO, "never proved it knows the password"},
		{garbage, AUTH_AUTO, "not base64"},
		{nonce, AUTH_AUTO, "SASL SCRAM-SHA-1"},
		{after_end, AUTH_LOGIN, "after the exchange had finished"},
		{no_cancel, AUTH_AUTO, "would not cancel the SASL exchange"},
		{first, AUTH_PLAIN, "challenge before the client's first message"},
		{oauth, AUTH_XOAUTH2, "Invalid credentials; server said: {\\\"status\\\":\\\"401\\\""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct server s;
		struct config_account acc = account(0, SEC_NONE);
		static char longuser[300];
		memset(longuser, 'u', 250);
		acc.auth = cases[i].auth;
		if (cases[i].steps == first)
			acc.username = longuser;
		struct err err = {0};
		CHECK(connect_err(cases[i].steps, &acc, &s, &err) < 0);
		CHECK_INT(err.cls, ERR_SOURCE);
		if (!strstr(err.msg, cases[i].why)) {
			fprintf(stderr, "  case %zu: %s\n", i, err.msg);
			test_failed_now = 1;
		}
		CHECK(strstr(err.msg, "pw") == NULL);
		no_credentials_after(&s);
	}
}

struct traced {
	const struct step *steps;
	enum auth_method auth;
	int rc;
};

static void traced_connect(void *ud)
{
	struct traced *t = ud;
	struct server s;
	server_start(&s, t->steps);
	struct config_account acc = account(s.port, SEC_NONE);
	acc.auth = t->auth;
	struct pop3_client *c = NULL;
	struct err err = {0};
	t->rc = pop3_connect(&acc, NULL, &c, &err);
	pop3_client_free(&c);
	finish(&s);
}

/* Even at debug, the log shows "AUTH MECH ***" and "***", never a response. */
TEST(auth_lines_never_logged)
{
	static const struct step plain[] = {
		SEND("+OK hi\r\n"), CAPA(FULL_CAPS), EXPECT("AUTH PLAIN AGFsaWNlAHB3"),
		SEND("+OK in\r\n"), END,
	};
	static const struct step login[] = {
		SEND("+OK hi\r\n"), CAPA(FULL_CAPS), EXPECT("AUTH LOGIN"),
		SEND("+ VXNlcm5hbWU6\r\n"), EXPECT("YWxpY2U="), SEND("+ UGFzc3dvcmQ6\r\n"),
		EXPECT("cHc="), SEND("+OK in\r\n"), END,
	};
	struct traced t = {.steps = plain};
	char *log = logged(LOG_DEBUG, traced_connect, &t);
	CHECK_INT(t.rc, 0);
	CHECK(strstr(log, "line=\"AUTH PLAIN ***\"") != NULL);
	CHECK(strstr(log, "AGFsaWNl") == NULL);
	free(log);
	t = (struct traced){.steps = login, .auth = AUTH_LOGIN};
	log = logged(LOG_DEBUG, traced_connect, &t);
	CHECK_INT(t.rc, 0);
	CHECK(strstr(log, "line=\"AUTH LOGIN ***\"") != NULL);
	CHECK(strstr(log, "YWxpY2U=") == NULL && strstr(log, "cHc=") == NULL);
	CHECK(strstr(log, "VXNlcm5hbWU6") == NULL);
	free(log);
}

/* io_timeout bounds each wait, whatever `timeout` says. */
TEST(io_timeout_bounds_a_silent_server)
{
	static const struct step steps[] = {SEND("+OK hi\r\n"), EXPECT("CAPA"), SLEEP(1500), END};
	struct server s;
	struct config_account acc = account(0, SEC_NONE);
	acc.timeout_ms = 30000;
	acc.io_timeout_ms = 300;
	struct err err = {0};
	CHECK(connect_err(steps, &acc, &s, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	if (!strstr(err.msg, "timed out after 300 ms")) {
		fprintf(stderr, "  error: %s\n", err.msg);
		test_failed_now = 1;
	}
	no_credentials_after(&s);
}

/* session_timeout bounds a server that trickles: each byte in time, the whole too late. */
TEST(session_timeout_bounds_a_trickling_server)
{
	static const struct step steps[] = {
		SEND("+OK hi\r\n"), EXPECT("CAPA"), SEND("+OK\r\n"), SLEEP(200), SEND("U"),
		SLEEP(200), SEND("I"), SLEEP(200), SEND("D"), SLEEP(200), SEND("L"), SLEEP(200),
		SEND("\r\n"), SLEEP(200), SEND("USER\r\n"), SLEEP(200), SEND(".\r\n"), END,
	};
	struct server s;
	struct config_account acc = account(0, SEC_NONE);
	acc.io_timeout_ms = 1000;
	acc.session_timeout_ms = 700;
	struct err err = {0};
	CHECK(connect_err(steps, &acc, &s, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	if (!strstr(err.msg, "session time limit of 700 ms reached")) {
		fprintf(stderr, "  error: %s\n", err.msg);
		test_failed_now = 1;
	}
	no_credentials_after(&s);
}

TEST(connect_timeout_bounds_a_full_backlog)
{
	struct full_backlog fb;
	full_backlog_open(&fb);
	struct config_account acc = account(fb.port, SEC_NONE);
	acc.timeout_ms = 30000;
	acc.connect_timeout_ms = 300;
	struct pop3_client *c = NULL;
	struct err err = {0};
	CHECK(pop3_connect(&acc, NULL, &c, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	if (!strstr(err.msg, "cannot connect") || !strstr(err.msg, "timed out after 300 ms")) {
		fprintf(stderr, "  error: %s\n", err.msg);
		test_failed_now = 1;
	}
	full_backlog_close(&fb);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_ERROR);
	RUN(stls_injection_refused);
	RUN(stls_missing_or_refused);
	RUN(stls_handshake_failure_sends_nothing);
	RUN(starttls_optional_falls_back_without_showing_the_password);
	RUN(each_login_as_specified);
	RUN(login_refusals_by_code);
	RUN(auto_prefers_scram);
	RUN(sasl_exchanges_a_server_breaks);
	RUN(auth_lines_never_logged);
	RUN(io_timeout_bounds_a_silent_server);
	RUN(session_timeout_bounds_a_trickling_server);
	RUN(connect_timeout_bounds_a_full_backlog);
	log_clear_secrets();
	return test_summary();
}
