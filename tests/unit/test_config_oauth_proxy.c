/*
 * The configuration of proxies (proxy: URLs, their passwords) and of OAuth2 (providers' defaults, flows, client
 * secrets, endpoints; IMAP and POP3 accounts): what loads, and the exact message an admin sees for
 * each mistake (file:line:column and key), never with a secret in it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/config/config.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"
#include "tests/unit/config_load.h"
#include "tests/unit/test.h"

#define DB "database:\n  url: postgresql://localhost/m2t\n"
#define IMAP                                                                   \
	"accounts:\n"                                                          \
	"  a:\n"                                                               \
	"    protocol: imap\n"                                                 \
	"    host: imap.example.com\n"                                         \
	"    username: helpdesk\n"
#define PW "    password_env: M2T_TEST_PW\n"
#define JOB "jobs:\n  j:\n    account: a\n    schedule: '@hourly'\n"
#define POP3                                                                   \
	"accounts:\n"                                                          \
	"  a:\n"                                                               \
	"    protocol: pop3\n"                                                 \
	"    host: pop.example.com\n"                                          \
	"    username: helpdesk\n"

struct bad_case {
	const char *text;
	const char *want;
};

static void check_cases(const struct bad_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *got = load_err(cases[i].text);
		if (strcmp(got, cases[i].want) != 0) {
			fprintf(stderr, "  case %zu:\n    got  %s\n    want %s\n", i, got,
				cases[i].want);
			test_failed_now = 1;
		}
	}
}

TEST(proxy_urls)
{
	struct config *cfg = NULL;
	struct err err;
	CHECK_INT(load_text(DB IMAP PW "    proxy: socks5h://m2t%40corp@Proxy.example:1080/\n"
			    "    proxy_password_env: M2T_TEST_PROXY_PW\n" JOB, &cfg, &err), 0);
	if (cfg) {
		const struct proxy_settings *p = &cfg->accounts[0].proxy;
		CHECK_INT(p->kind, PROXY_SOCKS5);
		CHECK_STR(p->host, "Proxy.example");
		CHECK_INT(p->port, 1080);
		CHECK_STR(p->username, "m2t@corp");
		CHECK_STR(p->password, "proxy-Secret-9");
		CHECK_INT(p->password_source, SECRET_ENV);
	}
	config_free(&cfg);
	CHECK_INT(load_text(DB IMAP PW "    proxy: http://[::1]:3128\n" JOB, &cfg, &err), 0);
	if (cfg) {
		CHECK_INT(cfg->accounts[0].proxy.kind, PROXY_HTTP);
		CHECK_STR(cfg->accounts[0].proxy.host, "::1");
		CHECK(cfg->accounts[0].proxy.username == NULL);
		CHECK_INT(cfg->accounts[0].proxy.password_source, SECRET_NONE);
	}
	config_free(&cfg);
	/* no proxy: direct */
	CHECK_INT(load_text(DB IMAP PW JOB, &cfg, &err), 0);
	if (cfg)
		CHECK_INT(cfg->accounts[0].proxy.kind, PROXY_NONE);
	config_free(&cfg);
}

TEST(proxy_mistakes)
{
	static const struct bad_case cases[] = {
		{DB IMAP PW "    proxy: socks4://h:1\n" JOB,
		 ":9:12: accounts.a.proxy: SOCKS4 is not supported; expected "
		 "socks5://[user@]host:port or http://[user@]host:port"},
		{DB IMAP PW "    proxy: https://h:1\n" JOB,
		 ":9:12: accounts.a.proxy: a TLS connection to the proxy itself is not "
		 "supported (the mail session inside is encrypted anyway); expected "
		 "socks5://[user@]host:port or http://[user@]host:port"},
		{DB IMAP PW "    proxy: socks5://h\n" JOB,
		 ":9:12: accounts.a.proxy: missing :port; expected socks5://[user@]host:port or "
		 "http://[user@]host:port"},
		{DB IMAP PW "    proxy: socks5://h:0\n" JOB,
		 ":9:12: accounts.a.proxy: bad port (1-65535); expected "
		 "socks5://[user@]host:port or http://[user@]host:port"},
		{DB IMAP PW "    proxy: socks5://h:99999\n" JOB,
		 ":9:12: accounts.a.proxy: bad port (1-65535); expected "
		 "socks5://[user@]host:port or http://[user@]host:port"},
		{DB IMAP PW "    proxy: http://h:80/path\n" JOB,
		 ":9:12: accounts.a.proxy: a path after host:port; expected "
		 "socks5://[user@]host:port or http://[user@]host:port"},
		{DB IMAP PW "    proxy: socks5://u%zz@h:1\n" JOB,
		 ":9:12: accounts.a.proxy: bad user name before '@'; expected "
		 "socks5://[user@]host:port or http://[user@]host:port"},
		/* the password is never quoted back */
		{DB IMAP PW "    proxy: socks5://u:hunter2@h:1\n" JOB,
		 ":9:12: accounts.a.proxy: a password in the proxy URL is refused: put it in "
		 "proxy_password_file or proxy_password_env"},
		{DB IMAP PW "    proxy: socks5://u@h:1\n" JOB,
		 ":5:5: accounts.a: missing required key \"proxy_password_file\" (or "
		 "\"proxy_password_env\")"},
		{DB IMAP PW "    proxy: socks5://h:1\n    proxy_password_env: M2T_TEST_PROXY_PW\n" JOB,
		 ":10:5: accounts.a.proxy_password_env: a proxy password needs a user name in "
		 "the proxy URL (socks5://user@host:port)"},
		{DB IMAP PW "    proxy_password_env: M2T_TEST_PROXY_PW\n" JOB,
		 ":9:5: accounts.a.proxy_password_env: a proxy password without proxy:"},
		{DB "accounts:\n  l:\n    protocol: maildir\n    path: /m\n    proxy: http://h:1\n"
		 "jobs:\n  j:\n    account: l\n    schedule: '@hourly'\n",
		 ":7:5: accounts.l.proxy: not used by a maildir account (it reads path: on this "
		 "machine)"},
	};
	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
	/* one server reached directly by one account and through a proxy by
	 * another: each connection takes its own account's way */
	CHECK_STR(load_err(DB IMAP PW "  b:\n    protocol: imap\n    host: IMAP.example.com\n"
			   "    username: x\n" PW "    proxy: http://h:1\n" JOB), "OK");
}

#define MS "    oauth2:\n      provider: microsoft\n      client_id: app-1\n"

TEST(oauth_provider_defaults)
{
	struct config *cfg = NULL;
	struct err err;
	CHECK_INT(load_text(DB IMAP MS JOB, &cfg, &err), 0);
	if (cfg) {
		const struct config_account *a = &cfg->accounts[0];
		CHECK(a->oauth2.enabled);
		CHECK(a->password == NULL);
		CHECK_INT(a->password_source, SECRET_NONE);
		CHECK_STR(a->oauth2.tenant, "organizations");
		CHECK_STR(a->oauth2.token_url,
			  "https://login.microsoftonline.com/organizations/oauth2/v2.0/token");
		CHECK_STR(a->oauth2.device_code_url,
			  "https://login.microsoftonline.com/organizations/oauth2/v2.0/devicecode");
		CHECK_STR(a->oauth2.scope,
			  "https://outlook.office365.com/IMAP.AccessAsUser.All offline_access");
		CHECK_INT(a->oauth2.flow, OAUTH_FLOW_REFRESH_TOKEN);
		CHECK(a->oauth2.client_secret == NULL);
		CHECK_STR(a->oauth2.database_url, "postgresql://localhost/m2t");
	}
	config_free(&cfg);
	CHECK_INT(load_text(DB IMAP MS "      tenant: contoso.onmicrosoft.com\n"
			    "      flow: client_credentials\n"
			    "      client_secret_env: M2T_TEST_CLIENT_SECRET\n" JOB, &cfg, &err), 0);
	if (cfg) {
		const struct oauth_settings *o = &cfg->accounts[0].oauth2;
		CHECK_STR(o->token_url, "https://login.microsoftonline.com/contoso.onmicrosoft.com/"
			  "oauth2/v2.0/token");
		CHECK(o->device_code_url == NULL);
		CHECK_STR(o->scope, "https://outlook.office365.com/.default");
		CHECK_STR(o->client_secret, "client-Secret-5");
	}
	config_free(&cfg);
	CHECK_INT(load_text(DB IMAP "    auth: oauthbearer\n    oauth2:\n      provider: google\n"
			    "      client_id: g.apps\n      client_secret_env: M2T_TEST_CLIENT_SECRET\n"
			    JOB, &cfg, &err), 0);
	if (cfg) {
		const struct oauth_settings *o = &cfg->accounts[0].oauth2;
		CHECK_STR(o->token_url, "https://oauth2.googleapis.com/token");
		CHECK_STR(o->device_code_url, "https://oauth2.googleapis.com/device/code");
		CHECK_STR(o->scope, "https://mail.google.com/");
	}
	config_free(&cfg);
	CHECK_INT(load_text(DB IMAP "    oauth2:\n      provider: generic\n      client_id: c\n"
			    "      token_url: http://127.0.0.1:8080/token\n"
			    "      device_code_url: http://localhost:8080/device\n"
			    "      scope: imap\n" JOB, &cfg, &err), 0);
	if (cfg)
		CHECK_STR(cfg->accounts[0].oauth2.token_url, "http://127.0.0.1:8080/token");
	config_free(&cfg);
}

/* POP3 accounts take OAuth2 like IMAP ones; Microsoft's scope is POP's. */
TEST(oauth_pop3_accounts)
{
	struct config *cfg = NULL;
	struct err err;
	CHECK_INT(load_text(DB POP3 MS JOB, &cfg, &err), 0);
	if (cfg) {
		const struct config_account *a = &cfg->accounts[0];
		CHECK_INT(a->protocol, PROTO_POP3);
		CHECK_INT(a->port, 995);
		CHECK_INT(a->auth, AUTH_AUTO);
		CHECK(a->oauth2.enabled);
		CHECK(a->password == NULL);
		CHECK_INT(a->password_source, SECRET_NONE);
		CHECK_STR(a->oauth2.scope,
			  "https://outlook.office365.com/POP.AccessAsUser.All offline_access");
		CHECK_STR(a->oauth2.token_url,
			  "https://login.microsoftonline.com/organizations/oauth2/v2.0/token");
		CHECK_STR(a->oauth2.database_url, "postgresql://localhost/m2t");
	}
	config_free(&cfg);
	/* app-only: the same .default scope as IMAP (POP.AccessAsApp is granted to the app) */
	CHECK_INT(load_text(DB POP3 "    auth: xoauth2\n" MS "      tenant: contoso\n"
			    "      flow: client_credentials\n"
			    "      client_secret_env: M2T_TEST_CLIENT_SECRET\n" JOB, &cfg, &err), 0);
	if (cfg) {
		CHECK_INT(cfg->accounts[0].auth, AUTH_XOAUTH2);
		CHECK_STR(cfg->accounts[0].oauth2.scope, "https://outlook.office365.com/.default");
	}
	config_free(&cfg);
	CHECK_INT(load_text(DB POP3 "    auth: oauthbearer\n    oauth2:\n      provider: google\n"
			    "      client_id: g.apps\n      client_secret_env: M2T_TEST_CLIENT_SECRET\n"
			    JOB, &cfg, &err), 0);
	if (cfg)
		CHECK_STR(cfg->accounts[0].oauth2.scope, "https://mail.google.com/");
	config_free(&cfg);
}

TEST(oauth_mistakes)
{
	static const struct bad_case cases[] = {
		{DB IMAP MS PW JOB,
		 ":11:5: accounts.a.password_env: an oauth2 account logs in with tokens from "
		 "its token endpoint, not a password"},
		{DB IMAP "    auth: scram-sha-256\n" MS JOB,
		 ":9:5: accounts.a.oauth2: an oauth2 account logs in with auth: xoauth2, "
		 "oauthbearer or auto, not scram-sha-256"},
		{DB IMAP "    oauth2:\n      client_id: c\n" JOB,
		 ":9:7: accounts.a.oauth2: missing required key \"provider\""},
		{DB IMAP "    oauth2:\n      provider: yahoo\n      client_id: c\n" JOB,
		 ":9:17: accounts.a.oauth2.provider: expected microsoft, google or generic, got "
		 "\"yahoo\""},
		{DB IMAP MS "      flow: client_credentials\n"
		 "      client_secret_env: M2T_TEST_CLIENT_SECRET\n" JOB,
		 ":9:7: accounts.a.oauth2: flow: client_credentials needs tenant: (the "
		 "directory id or domain)"},
		{DB IMAP MS "      tenant: contoso\n      flow: client_credentials\n" JOB,
		 ":9:7: accounts.a.oauth2: missing required key \"client_secret_file\" (or "
		 "\"client_secret_env\")"},
		{DB IMAP "    oauth2:\n      provider: google\n      client_id: c\n"
		 "      tenant: t\n" JOB,
		 ":11:7: accounts.a.oauth2.tenant: only provider: microsoft has a tenant"},
		{DB IMAP "    oauth2:\n      provider: google\n      client_id: c\n"
		 "      flow: client_credentials\n" JOB,
		 ":11:13: accounts.a.oauth2.flow: Google has no client_credentials flow for "
		 "mail (service accounts are not supported)"},
		{DB IMAP "    oauth2:\n      provider: generic\n      client_id: c\n" JOB,
		 ":9:7: accounts.a.oauth2: provider: generic needs token_url:"},
		{DB IMAP MS "      token_url: http://login.example.com/token\n" JOB,
		 ":11:18: accounts.a.oauth2.token_url: must be an https:// URL (plain http:// "
		 "only to 127.0.0.1 or localhost)"},
		{DB IMAP MS "      token_url: ftp://x/token\n" JOB,
		 ":11:18: accounts.a.oauth2.token_url: must be an https:// URL"},
		{DB IMAP MS "      tenant: con/toso\n" JOB,
		 ":11:15: accounts.a.oauth2.tenant: expected a tenant id or domain (letters, "
		 "digits, '.' and '-')"},
		{DB IMAP MS "      client_secret: x\n" JOB,
		 ":11:7: accounts.a.oauth2: unknown key \"client_secret\""},
		/* POP3 too: a token, not a password, and only the bearer logins */
		{DB POP3 MS PW JOB,
		 ":11:5: accounts.a.password_env: an oauth2 account logs in with tokens from "
		 "its token endpoint, not a password"},
		{DB POP3 "    auth: apop\n" MS JOB,
		 ":9:5: accounts.a.oauth2: an oauth2 account logs in with auth: xoauth2, "
		 "oauthbearer or auto, not apop"},
		{DB POP3 "    auth: user\n" MS JOB,
		 ":9:5: accounts.a.oauth2: an oauth2 account logs in with auth: xoauth2, "
		 "oauthbearer or auto, not user"},
		/* a maildir account has no login at all */
		{DB "accounts:\n  l:\n    protocol: maildir\n    path: /m\n" MS
		 "jobs:\n  j:\n    account: l\n    schedule: '@hourly'\n",
		 ":7:5: accounts.l.oauth2: not used by a maildir account (it reads path: on this "
		 "machine)"},
	};
	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

/* check-config shows where secrets come from, never the secrets */
TEST(summary_without_secrets)
{
	struct config *cfg = NULL;
	struct err err;
	CHECK_INT(load_text(DB IMAP "    proxy: socks5://m2t@proxy.example:1080\n"
			    "    proxy_password_env: M2T_TEST_PROXY_PW\n"
			    "    oauth2:\n      provider: microsoft\n      tenant: contoso\n"
			    "      client_id: app-1\n      flow: client_credentials\n"
			    "      client_secret_env: M2T_TEST_CLIENT_SECRET\n" JOB, &cfg, &err), 0);
	if (!cfg)
		return;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	config_print_summary(cfg, f);
	fclose(f);
	CHECK(strstr(out, "proxy:    socks5://m2t@proxy.example:1080, password from env "
		      "M2T_TEST_PROXY_PW") != NULL);
	CHECK(strstr(out, "oauth2:   microsoft, flow client_credentials, client app-1, secret "
		      "from env M2T_TEST_CLIENT_SECRET") != NULL);
	CHECK(strstr(out, "proxy-Secret-9") == NULL);
	CHECK(strstr(out, "client-Secret-5") == NULL);
	free(out);
	config_free(&cfg);
}

int main(void)
{
	if (config_dir_make("config-op") < 0)
		return 2;
	setenv("M2T_TEST_PW", "imap-Secret-77", 1);
	setenv("M2T_TEST_PROXY_PW", "proxy-Secret-9", 1);
	setenv("M2T_TEST_CLIENT_SECRET", "client-Secret-5", 1);
	log_set_level(LOG_ERROR);

	RUN(proxy_urls);
	RUN(proxy_mistakes);
	RUN(oauth_provider_defaults);
	RUN(oauth_pop3_accounts);
	RUN(oauth_mistakes);
	RUN(summary_without_secrets);

	config_dir_remove();
	return test_summary();
}
