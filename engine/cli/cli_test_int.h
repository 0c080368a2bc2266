/*
 * Private to `test-connection` (cli_test_*.c): the report printing every
 * server protocol shares, and the per-protocol checks. Each check prints
 * its account's lines and returns the command's exit code: 0 only when a
 * job could run, else 69 (EX_UNAVAILABLE: login, certificate, mailbox),
 * 75 (EX_TEMPFAIL: unreachable, timeout) or 78 (EX_CONFIG: settings
 * OpenSSL refuses).
 */
#ifndef M2T_CLI_TEST_INT_H
#define M2T_CLI_TEST_INT_H

#include "engine/config/config.h"
#include "engine/fetch/server_conn.h"
#include "engine/util/err.h"

/* "  what     1.2 ms" when the step happened (ms >= 0). */
void cli_test_print_ms(const char *what, double ms);
/* Address, TLS and certificate, `starttls` ("STARTTLS", "STLS") when used,
 * capabilities and the login, as far as the connection got. */
void cli_test_print_report(const struct config_account *a, const struct conn_report *r,
			   const char *starttls);
/* An oauth2 account's provider and flow, and its tokens' state (expiry,
 * last refresh, last error; never a token); nothing for other accounts.
 * After the login attempt, so that a refresh it made is shown. */
void cli_test_print_oauth(const struct config_account *a);
/*
 * The round trips of the report; then, when err is given (the connection
 * failed), "FAILED: ..." with the certificate's problem when the error
 * does not already say it, and the exit code for it. 0 without err.
 */
int cli_test_round_trips(const struct conn_report *r, const struct err *err);
/* The exit code of an error after a good login. */
int cli_test_exit_code(const struct err *err);

int cli_test_pop3(const struct config *cfg, const struct config_account *a);
int cli_test_maildir(const struct config *cfg, const struct config_account *a);

#endif
