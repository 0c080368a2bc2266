/*
 * Connecting and logging in against a scripted hostile server
 * (script_server.h): STARTTLS injection, stripped or refused STARTTLS,
 * PREAUTH, starttls-optional's fallback, early tagged OKs, SASL exchanges
 * (SCRAM, XOAUTH2, NTLM, CRAM-MD5) and LOGIN quoting, and connect_timeout.
 * No case may end with credentials sent where the script did not ask.
 */
#include <signal.h>

#include "engine/util/log.h"
#include "tests/unit/imap_script.h"

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

TEST(connect_timeout_bounds_a_full_backlog)
{
	struct full_backlog fb;
	full_backlog_open(&fb);
	struct config_account acc = account(fb.port, SEC_NONE);
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
	full_backlog_close(&fb);
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
	RUN(connect_timeout_bounds_a_full_backlog);
	log_clear_secrets();
	return test_summary();
}
