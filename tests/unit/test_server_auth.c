/*
 * What IMAP and POP3 logins share (engine/fetch/server_conn.c): an OAuth2
 * account's mechanism under auth: auto, the refusal to show a token or
 * password unencrypted, the secret a login sends, the cases in which a
 * refused token is NOT replaced, and the order of things: neither client
 * connects before an oauth2 account has its token. The retry with a new
 * token needs a token endpoint and the database: it runs against the real
 * Dovecot (tests/integration/test_oauth.sh, test_oauth_pop3.sh).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/auth/oauth.h"
#include "engine/fetch/imap.h"
#include "engine/fetch/pop3.h"
#include "engine/fetch/server_conn.h"
#include "engine/util/log.h"
#include "tests/unit/test.h"

static struct config_account oauth_account(enum protocol proto, enum auth_method auth)
{
	static char host[] = "127.0.0.1", user[] = "alice", name[] = "t", client[] = "c";
	struct config_account acc;
	memset(&acc, 0, sizeof(acc));
	acc.name = name;
	acc.protocol = proto;
	acc.host = host;
	acc.security = SEC_TLS;
	acc.tls.verify = true;
	acc.username = user;
	acc.auth = auth;
	acc.timeout_ms = 2000;
	acc.oauth2.enabled = true;
	acc.oauth2.client_id = client;
	return acc;
}

TEST(oauth_mechanism_under_auto)
{
	struct err err = {0};
	const char *mech = NULL;
	const char *dovecot[] = {"PLAIN", "XOAUTH2", "OAUTHBEARER"};
	CHECK_INT(server_auth_oauth_mech("h", dovecot, 3, &mech, &err), 0);
	CHECK_STR(mech, "OAUTHBEARER");
	const char *microsoft[] = {"PLAIN", "xoauth2"};
	CHECK_INT(server_auth_oauth_mech("h", microsoft, 2, &mech, &err), 0);
	CHECK_STR(mech, "XOAUTH2");
	/* a password server: what it offers, cleaned, in the error */
	const char *passwords[] = {"PLAIN", "SCRAM-\x1b[31mSHA-256"};
	CHECK_INT(server_auth_oauth_mech("mail.example", passwords, 2, &mech, &err), -1);
	CHECK(mech == NULL);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "mail.example offers neither OAUTHBEARER nor XOAUTH2") != NULL);
	CHECK(strstr(err.msg, "(offered: PLAIN SCRAM-") != NULL);
	CHECK(strchr(err.msg, '\x1b') == NULL);
	CHECK_INT(server_auth_oauth_mech("h", NULL, 0, &mech, &err), -1);
	CHECK(strstr(err.msg, "(offered: none)") != NULL);
}

TEST(refusals_name_the_secret)
{
	struct err err = {0};
	struct config_account acc = oauth_account(PROTO_POP3, AUTH_AUTO);
	CHECK_INT(server_auth_refuse_unencrypted(&acc, "STLS", &err), -1);
	CHECK_INT(err.cls, ERR_SOURCE);
	/* no challenge-response advice for a token: only TLS helps */
	CHECK_STR(err.msg, "auth: auto would send the token unencrypted: STLS was not used; "
		  "refusing (use security: tls or starttls)");
	acc.oauth2.enabled = false;
	acc.auth = AUTH_OAUTHBEARER;
	CHECK_INT(server_auth_refuse_unencrypted(&acc, "STARTTLS", &err), -1);
	CHECK(strstr(err.msg, "auth: oauthbearer would send the token unencrypted: STARTTLS")
	      != NULL);
	acc.auth = AUTH_PLAIN;
	CHECK_INT(server_auth_refuse_unencrypted(&acc, "STARTTLS", &err), -1);
	CHECK_STR(err.msg, "auth: plain would send the password unencrypted: STARTTLS was not "
		  "used; refusing (use security: tls or starttls, or a challenge-response "
		  "mechanism such as scram-sha-256)");
}

TEST(the_secret_a_login_sends)
{
	static char pw[] = "pw", token[] = "at-1";
	struct config_account acc = oauth_account(PROTO_IMAP, AUTH_AUTO);
	struct oauth_token tok = {0};
	CHECK_STR(server_auth_secret(&acc, &tok), "");
	tok.value = token;
	CHECK_STR(server_auth_secret(&acc, &tok), "at-1");
	acc.oauth2.enabled = false;
	CHECK_STR(server_auth_secret(&acc, &tok), "");
	acc.password = pw;
	CHECK_STR(server_auth_secret(&acc, &tok), "pw");
}

/*
 * No new token (and the token left as it was) unless the server refused
 * the login on a usable session with a token that came from a cache.
 */
TEST(when_a_refused_token_is_not_replaced)
{
	static char token[] = "at-cached";
	static const struct {
		bool oauth, refreshed, usable, have_token;
		enum err_class cls;
	} cases[] = {
		{false, false, true, true, ERR_SOURCE},     /* a password account */
		{true, true, true, true, ERR_SOURCE},       /* just fetched: same answer again */
		{true, false, false, true, ERR_SOURCE},     /* the session is broken */
		{true, false, true, true, ERR_TRANSIENT},   /* [SYS/TEMP], a timeout */
		{true, false, true, true, ERR_FATAL},       /* our own limit */
		{true, false, true, false, ERR_SOURCE},     /* no token at all */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config_account acc = oauth_account(PROTO_POP3, AUTH_XOAUTH2);
		acc.oauth2.enabled = cases[i].oauth;
		struct oauth_token tok = {
			.value = cases[i].have_token ? token : NULL, .refreshed = cases[i].refreshed,
		};
		struct err err = {0};
		err_set(&err, cases[i].cls, "login refused");
		if (server_auth_oauth_retry(&acc, "pop3.login", "h", cases[i].usable, &tok, &err)) {
			fprintf(stderr, "  case %zu: retried\n", i);
			test_failed_now = 1;
		}
		CHECK(tok.value == (cases[i].have_token ? token : NULL));
		CHECK_STR(err.msg, "login refused");
		CHECK_INT(err.cls, cases[i].cls);
	}
}

/* A listener nobody should connect to: true when a connection is waiting. */
static bool connected(int lfd)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	return poll(&p, 1, 0) > 0;
}

/* The token comes first: when it cannot be had, the server never hears from us. */
TEST(no_connection_before_the_token)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t salen = sizeof(sa);
	CHECK(lfd >= 0);
	CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(lfd, 4) == 0 &&
	      getsockname(lfd, (struct sockaddr *)&sa, &salen) == 0);
	enum protocol protos[] = {PROTO_POP3, PROTO_IMAP};
	for (size_t i = 0; i < 2; i++) {
		struct config_account acc = oauth_account(protos[i], AUTH_AUTO);
		acc.port = ntohs(sa.sin_port);
		acc.security = SEC_NONE;
		/* no database for the tokens: oauth_token_get fails at once */
		acc.oauth2.database_url = NULL;
		struct err err = {0};
		int r;
		if (protos[i] == PROTO_POP3) {
			struct pop3_client *c = NULL;
			r = pop3_connect(&acc, NULL, &c, &err);
			CHECK(c == NULL);
		} else {
			struct imap_client *c = NULL;
			r = imap_connect(&acc, NULL, &c, &err);
			CHECK(c == NULL);
		}
		CHECK_INT(r, -1);
		CHECK(strstr(err.msg, "no database for OAuth2 tokens") != NULL);
		CHECK(!connected(lfd));
	}
	/* the same account with a password does connect: the check above can fail */
	static char pw[] = "pw";
	struct config_account acc = oauth_account(PROTO_POP3, AUTH_AUTO);
	acc.port = ntohs(sa.sin_port);
	acc.security = SEC_NONE;
	acc.oauth2.enabled = false;
	acc.password = pw;
	acc.timeout_ms = 200;
	struct pop3_client *c = NULL;
	struct err err = {0};
	CHECK_INT(pop3_connect(&acc, NULL, &c, &err), -1);  /* no greeting: a timeout */
	CHECK(connected(lfd));
	close(lfd);
	oauth_cache_clear();
}

int main(void)
{
	log_set_level(LOG_ERROR);
	RUN(oauth_mechanism_under_auto);
	RUN(refusals_name_the_secret);
	RUN(the_secret_a_login_sends);
	RUN(when_a_refused_token_is_not_replaced);
	RUN(no_connection_before_the_token);
	return test_summary();
}
