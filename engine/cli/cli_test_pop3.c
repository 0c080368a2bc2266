/*
 * `test-connection` for a POP3 account: connects and logs in as a job
 * does (TLS or STLS as configured, the login auth: picks), then STAT and
 * the UIDL and LIST a run starts with, and QUIT without a DELE: nothing on
 * the server changes. POP3 has one maildrop and no folders, so each job
 * of the account is only described (what happens to its mail).
 *
 * An oauth2 account's token state is shown as for IMAP.
 *
 * SECURITY: prints the user name, never the password or token; server
 * text (CAPA lines, certificate names) arrives cleaned from engine/fetch
 * and engine/net.
 */
#include <inttypes.h>
#include <stdio.h>
#include <sysexits.h>

#include "engine/cli/cli_test_int.h"
#include "engine/fetch/pop3.h"

static void describe_jobs(const struct config *cfg, const struct config_account *a)
{
	for (size_t i = 0; i < cfg->njobs; i++) {
		const struct config_job *j = &cfg->jobs[i];
		if (j->account != a)
			continue;
		if (j->keep_on_server)
			printf("  job %s: keep_on_server: mail stays on the server, remembered by "
			       "UIDL\n", j->name);
		else
			printf("  job %s: processed mail is deleted after COMMIT (DELE); badmail "
			       "stays on the server, remembered by UIDL\n", j->name);
	}
}

int cli_test_pop3(const struct config *cfg, const struct config_account *a)
{
	struct conn_report rep;
	struct pop3_client *c = NULL;
	struct err err = {0};
	uint32_t count = 0;
	uint64_t octets = 0;
	const struct pop3_msg *msgs;
	size_t listed = 0;

	int r = pop3_connect_report(a, NULL, &rep, &c, &err);
	cli_test_print_report(a, &rep, "STLS");
	cli_test_print_oauth(a);
	if (r < 0)
		return cli_test_round_trips(&rep, &err);
	double t0 = server_conn_clock_ms();
	r = pop3_stat(c, &count, &octets, &err);
	double stat_ms = server_conn_clock_ms() - t0, list_ms = -1;
	if (r == 0) {
		/* exactly what a run starts with: the listing a job needs (UIDL) */
		t0 = server_conn_clock_ms();
		r = pop3_list_messages(c, &msgs, &listed, &err);
		list_ms = server_conn_clock_ms() - t0;
	}
	cli_test_round_trips(&rep, NULL);
	cli_test_print_ms("  STAT", stat_ms);
	cli_test_print_ms("  UIDL, LIST", list_ms);
	if (r < 0) {
		printf("FAILED: %s\n", err.msg);
		pop3_client_free(&c);
		return cli_test_exit_code(&err);
	}
	printf("  maildrop:     %" PRIu32 " message%s, %" PRIu64 " octets; %zu listed by UIDL%s\n",
	       count, count == 1 ? "" : "s", octets, listed,
	       listed < count ? " (the others have no unique UIDL)" : "");
	describe_jobs(cfg, a);
	/* no DELE was sent: QUIT changes nothing, and frees the maildrop's lock at once */
	if (pop3_quit(c, &err) < 0)
		printf("  QUIT:         %s\n", err.msg);
	pop3_client_free(&c);
	printf("OK: logged in, and the maildrop can be listed by UIDL\n");
	return EX_OK;
}
