/*
 * `mail2ticket -c FILE oauth login|status|import ACCOUNT`: signs an
 * account in with the device-code flow, shows the state of its tokens, or
 * takes a refresh token obtained elsewhere (stdin).
 *
 * SECURITY: prints the user code and the sign-in URL (the admin needs
 * them), never a token, the device code or the client secret.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "engine/auth/oauth.h"
#include "engine/cli/cli.h"
#include "engine/config/config.h"
#include "engine/util/log.h"

static void fmt_time(int64_t t, char *out, size_t outlen)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static void prompt(void *ud, const struct oauth_device_prompt *p)
{
	(void)ud;
	printf("To sign in, open %s and enter the code %s\n", p->verification_uri, p->user_code);
	if (p->message[0])
		printf("(%s)\n", p->message);
	printf("Waiting up to %lld minutes for the sign-in ...\n",
	       (long long)((p->expires_in + 59) / 60));
	fflush(stdout);
}

void cli_oauth_print_status(const struct config_account *a, const char *indent)
{
	struct oauth_status st;
	struct err err = {0};
	char t1[40], t2[40];
	if (oauth_status_read(a, &st, &err) < 0) {
		printf("%stokens:       unknown (%s)\n", indent, err.msg);
		return;
	}
	if (a->oauth2.flow == OAUTH_FLOW_REFRESH_TOKEN) {
		if (!st.have_refresh)
			printf("%srefresh token: none stored: run `mail2ticket oauth login %s`\n",
			       indent, a->name);
		else if (st.other_client)
			printf("%srefresh token: issued to another client id: sign in again\n",
			       indent);
		else
			printf("%srefresh token: stored\n", indent);
	}
	if (st.have_access && st.access_expires_at > st.now) {
		fmt_time(st.access_expires_at, t1, sizeof(t1));
		printf("%saccess token: valid until %s (%lld min left)\n", indent, t1,
		       (long long)((st.access_expires_at - st.now) / 60));
	} else if (st.have_access) {
		fmt_time(st.access_expires_at, t1, sizeof(t1));
		printf("%saccess token: expired %s (the next login refreshes it)\n", indent, t1);
	} else {
		printf("%saccess token: none cached\n", indent);
	}
	if (st.last_refresh_at) {
		fmt_time(st.last_refresh_at, t1, sizeof(t1));
		printf("%slast refresh: %s\n", indent, t1);
	}
	if (st.last_error[0]) {
		fmt_time(st.last_error_at, t2, sizeof(t2));
		printf("%slast error:   %s: %s\n", indent, t2, st.last_error);
	} else {
		printf("%slast error:   none\n", indent);
	}
}

static int status(const struct config_account *a)
{
	struct oauth_status st;
	struct err err = {0};
	printf("account %s: oauth2 %s, flow %s, client %s\n", a->name,
	       config_oauth_provider_name(a->oauth2.provider),
	       config_oauth_flow_name(a->oauth2.flow), a->oauth2.client_id);
	printf("  token endpoint: %s\n", a->oauth2.token_url);
	if (oauth_status_read(a, &st, &err) < 0) {
		fprintf(stderr, "mail2ticket: oauth status: %s\n", err.msg);
		return cli_exit_code(&err);
	}
	cli_oauth_print_status(a, "  ");
	bool usable = a->oauth2.flow == OAUTH_FLOW_CLIENT_CREDENTIALS ||
		      (st.have_refresh && !st.other_client);
	/* a refused refresh token needs an admin; a network failure does not */
	if (usable && strstr(st.last_error, "invalid_grant"))
		usable = false;
	return usable ? EX_OK : EX_UNAVAILABLE;
}

static int login(const struct config_account *a)
{
	struct err err = {0};
	if (a->oauth2.flow != OAUTH_FLOW_REFRESH_TOKEN) {
		printf("account %s uses flow: client_credentials: there is nothing to sign in; "
		       "`oauth status` or `test-connection` checks it\n", a->name);
		return EX_USAGE;
	}
	if (oauth_device_login(a, prompt, NULL, &err) < 0) {
		fprintf(stderr, "mail2ticket: oauth login %s: %s\n", a->name, err.msg);
		return cli_exit_code(&err);
	}
	printf("Signed in: the refresh token of %s is stored in the database.\n", a->name);
	return EX_OK;
}

/* One line on stdin (the refresh token), at most 16 KB. */
static int import(const struct config_account *a)
{
	static char line[16 * 1024 + 2];
	struct oauth_token tok;
	struct err err = {0};
	if (!fgets(line, sizeof(line), stdin)) {
		fprintf(stderr, "mail2ticket: oauth import: expected the refresh token on stdin\n");
		return EX_USAGE;
	}
	line[strcspn(line, "\r\n")] = '\0';
	int r = oauth_refresh_token_import(a, line, &tok, &err);
	explicit_bzero(line, sizeof(line));
	if (r < 0) {
		fprintf(stderr, "mail2ticket: oauth import %s: %s\n", a->name, err.msg);
		return err.cls == ERR_FATAL ? EX_DATAERR : cli_exit_code(&err);
	}
	char t[40];
	fmt_time(tok.expires_at, t, sizeof(t));
	printf("Stored and checked: the token endpoint gave an access token valid until %s.\n",
	       t);
	oauth_token_release(&tok);
	return EX_OK;
}

int cli_oauth(const struct cli_opts *o, int argc, char **argv)
{
	struct config *cfg = NULL;
	struct err err = {0};
	if (argc != 3 || (strcmp(argv[1], "login") != 0 && strcmp(argv[1], "status") != 0 &&
			  strcmp(argv[1], "import") != 0)) {
		fprintf(stderr, "usage: mail2ticket [-c FILE] oauth login|status|import ACCOUNT\n");
		return EX_USAGE;
	}
	if (config_load(o->config_path, &cfg, &err) < 0) {
		fprintf(stderr, "mail2ticket: %s\n", err.msg);
		return EX_CONFIG;
	}
	if (!o->log_level_set && cfg->log_level) {
		int lv = log_level_parse(cfg->log_level);
		if (lv >= 0)
			log_set_level((enum log_level)lv);
	}
	const struct config_account *a = config_find_account(cfg, argv[2]);
	int rc;
	if (!a) {
		fprintf(stderr, "mail2ticket: oauth: no account \"%s\" in %s\n", argv[2],
			o->config_path);
		rc = EX_USAGE;
	} else if (!a->oauth2.enabled) {
		fprintf(stderr, "mail2ticket: oauth: account \"%s\" has no oauth2: settings\n",
			argv[2]);
		rc = EX_USAGE;
	} else if (strcmp(argv[1], "login") == 0) {
		rc = login(a);
	} else if (strcmp(argv[1], "import") == 0) {
		rc = import(a);
	} else {
		rc = status(a);
	}
	config_free(&cfg);
	return rc;
}
