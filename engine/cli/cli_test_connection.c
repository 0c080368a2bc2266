/*
 * `mail2ticket -c FILE test-connection ACCOUNT`: connects the way a job
 * does and prints what an admin needs to see to fix a connection: the
 * proxy, the address, TLS version and cipher, the server's certificate (and why it
 * was refused, in plain words), capabilities, the login mechanism, each
 * job folder of the account with its message count, and round-trip
 * times. Nothing is changed on the server: folders are looked up, never
 * created, and the mailbox is opened read-only (EXAMINE). This file
 * holds the command, the printing IMAP and POP3 share, and the IMAP
 * checks; POP3 is in cli_test_pop3.c, Maildir in cli_test_maildir.c.
 *
 * SECURITY: prints the user name, never the password or token; server
 * text (capabilities, certificate names) arrives cleaned from engine/net
 * and engine/fetch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "engine/cli/cli.h"
#include "engine/cli/cli_test_int.h"
#include "engine/config/config.h"
#include "engine/fetch/imap.h"
#include "engine/net/net.h"
#include "engine/util/log.h"

void cli_test_print_ms(const char *what, double ms)
{
	if (ms >= 0)
		printf("  %-13s %.1f ms\n", what, ms);
}

static void print_cert(const struct net_tls_info *ti)
{
	if (ti->handshake_done)
		printf("  TLS:          %s, %s\n", ti->version, ti->cipher);
	else
		printf("  TLS:          handshake failed\n");
	if (!ti->have_cert) {
		printf("  certificate:  none received\n");
		return;
	}
	printf("  certificate:  subject %s\n", ti->subject);
	printf("                issuer  %s\n", ti->issuer);
	printf("                names   %s\n", ti->sans[0] ? ti->sans : "(no subjectAltName)");
	if (ti->days_left >= 0)
		printf("                expires %s (%ld days left)\n", ti->not_after, ti->days_left);
	else
		printf("                EXPIRED %s (%ld days ago)\n", ti->not_after, -ti->days_left);
	printf("                key     sha256//%s (for tls.pin_sha256)\n", ti->pin_sha256);
	if (ti->problem[0])
		printf("                NOT VALID: %s\n", ti->problem);
	else if (ti->verified)
		printf("                valid: chain and name verified\n");
}

void cli_test_print_report(const struct config_account *a, const struct conn_report *r,
			   const char *starttls)
{
	if (r->proxy[0])
		printf("  address:      %s port %u, through the %s\n", a->host, a->port, r->proxy);
	else
		printf("  address:      %s port %u\n", r->peer[0] ? r->peer : "(not connected)",
		       a->port);
	if (r->tls_seen)
		print_cert(&r->tls_info);
	else if (r->peer[0] && !r->tls)
		printf("  TLS:          none: the session is NOT encrypted\n");
	if (r->starttls_used)
		printf("  %s:%*s used\n", starttls, (int)(12 - strlen(starttls)), "");
	if (r->caps_before[0])
		printf("  capabilities: %s\n", r->caps_before);
	if (r->mech[0])
		printf("  login:        %s as %s\n", r->mech, a->username);
	if (r->caps[0] && strcmp(r->caps, r->caps_before) != 0)
		printf("  after login:  %s\n", r->caps);
}

int cli_test_round_trips(const struct conn_report *r, const struct err *err)
{
	printf("  round trips:\n");
	cli_test_print_ms("  connect", r->connect_ms);
	cli_test_print_ms("  TLS", r->tls_ms);
	cli_test_print_ms("  login", r->login_ms);
	if (!err)
		return EX_OK;
	printf("FAILED: %s\n", err->msg);
	if (r->tls_seen && r->tls_info.problem[0] && !strstr(err->msg, r->tls_info.problem))
		printf("  certificate: %s\n", r->tls_info.problem);
	/* a fatal error here is a setting (a cipher list, a CA file) */
	return err->cls == ERR_FATAL ? EX_CONFIG : cli_exit_code(err);
}

int cli_test_exit_code(const struct err *err)
{
	return err->cls == ERR_TRANSIENT ? EX_TEMPFAIL : EX_UNAVAILABLE;
}

void cli_test_print_oauth(const struct config_account *a)
{
	if (!a->oauth2.enabled)
		return;
	printf("  oauth2:       %s, flow %s, client %s\n",
	       config_oauth_provider_name(a->oauth2.provider),
	       config_oauth_flow_name(a->oauth2.flow), a->oauth2.client_id);
	cli_oauth_print_status(a, "                ");
}

/* One folder: exists (with its message count) or not; never created. */
static int folder_line(struct imap_client *c, const char *label, const char *name,
		       bool must_exist, struct err *err)
{
	char *server_name = NULL;
	uint32_t n = 0;
	if (imap_resolve_mailbox(c, name, false, &server_name, err) < 0) {
		if (err->cls != ERR_SOURCE || !strstr(err->msg, "not found"))
			return -1;
		printf("    %-8s %s: missing%s\n", label, name,
		       must_exist ? "" : " (created at the first run)");
		return must_exist ? -1 : 0;
	}
	if (imap_status_messages(c, server_name, &n, err) < 0) {
		free(server_name);
		return -1;
	}
	printf("    %-8s %s: %u message%s\n", label, server_name, n, n == 1 ? "" : "s");
	free(server_name);
	return 0;
}

static int check_job(struct imap_client *c, const struct config_job *j, struct err *err)
{
	uint32_t uv = 0, exists = 0;
	char *mbox = NULL;
	printf("  job %s:\n", j->name);
	if (folder_line(c, "mailbox", j->mailbox, true, err) < 0)
		return -1;
	/* a job that keeps its mail uses no other folder */
	if (j->keep_on_server)
		printf("    keep_on_server: mail stays in the mailbox, %s\n",
		       j->mark_seen ? "marked \\Seen after each run (SELECT)"
				    : "nothing changed (EXAMINE)");
	else if (folder_line(c, "archive", j->archive_folder, false, err) < 0 ||
		 folder_line(c, "badmail", j->badmail_folder, false, err) < 0)
		return -1;
	if (imap_resolve_mailbox(c, j->mailbox, false, &mbox, err) < 0)
		return -1;
	double t0 = server_conn_clock_ms();
	int r = imap_select(c, mbox, true, &uv, &exists, err);
	free(mbox);
	if (r < 0)
		return -1;
	printf("    select   %.1f ms (EXAMINE, uidvalidity %u)\n", server_conn_clock_ms() - t0, uv);
	return 0;
}

/* Which proxy the account is configured for, before connecting: shown also
 * when the proxy cannot be reached. */
static void print_proxy(const struct config_account *a)
{
	const struct proxy_settings *p = &a->proxy;
	if (p->kind == PROXY_NONE) {
		printf("  proxy:        none (direct connection)\n");
		return;
	}
	printf("  proxy:        %s://%s%s%s:%u%s\n", config_proxy_kind_name(p->kind),
	       p->username ? p->username : "", p->username ? "@" : "", p->host, p->port,
	       p->kind == PROXY_SOCKS5 ? " (the proxy resolves the mail server's name)" : "");
}

static int test_imap(const struct config *cfg, const struct config_account *a)
{
	struct conn_report rep;
	struct imap_client *c = NULL;
	struct err err = {0};
	int rc = EX_OK, njobs = 0;

	int r = imap_connect_report(a, NULL, &rep, &c, &err);
	cli_test_print_report(a, &rep, "STARTTLS");
	cli_test_print_oauth(a);
	if (r < 0)
		return cli_test_round_trips(&rep, &err);
	cli_test_round_trips(&rep, NULL);
	for (size_t i = 0; i < cfg->njobs; i++) {
		const struct config_job *j = &cfg->jobs[i];
		if (j->account != a)
			continue;
		njobs++;
		if (check_job(c, j, &err) < 0) {
			printf("FAILED: job %s: %s\n", j->name, err.msg);
			rc = cli_test_exit_code(&err);
			break;
		}
	}
	imap_client_free(&c);
	if (rc == EX_OK) {
		if (njobs)
			printf("OK: logged in, and every job's mailbox exists\n");
		else
			printf("OK: logged in (no job uses this account)\n");
	}
	return rc;
}

static int test_account(const struct config *cfg, const struct config_account *a)
{
	if (a->protocol == PROTO_MAILDIR) {
		printf("account %s: maildir %s\n", a->name, a->path);
		return cli_test_maildir(cfg, a);
	}
	printf("account %s: %s %s:%u, security %s, auth %s\n", a->name,
	       a->protocol == PROTO_POP3 ? "pop3" : "imap", a->host, a->port,
	       config_security_name(a->security), config_auth_name(a->auth));
	print_proxy(a);
	if (a->protocol == PROTO_POP3)
		return cli_test_pop3(cfg, a);
	return test_imap(cfg, a);
}

int cli_test_connection(const struct cli_opts *o, int argc, char **argv)
{
	struct config *cfg = NULL;
	struct err err = {0};
	if (argc != 2) {
		fprintf(stderr, "usage: mail2ticket [-c FILE] test-connection ACCOUNT\n");
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
	const struct config_account *a = config_find_account(cfg, argv[1]);
	int rc;
	if (!a) {
		fprintf(stderr, "mail2ticket: test-connection: no account \"%s\" in %s\n", argv[1],
			o->config_path);
		rc = EX_USAGE;
	} else {
		rc = test_account(cfg, a);
	}
	config_free(&cfg);
	return rc;
}
