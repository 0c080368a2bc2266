/*
 * The configuration of the sources besides IMAP: POP3 jobs without folders,
 * Maildir accounts with only a path, POP3-only logins, keep_on_server and
 * mark_seen; the exact message an admin sees for each mistake
 * (file:line:column and key).
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
#define POP3_ACCOUNT                                                           \
	"accounts:\n"                                                          \
	"  pop:\n"                                                             \
	"    protocol: pop3\n"                                                 \
	"    host: pop.example.com\n"                                          \
	"    username: helpdesk\n"                                             \
	"    password_env: M2T_TEST_PW\n"
#define MAILDIR_ACCOUNT                                                        \
	"accounts:\n"                                                          \
	"  local:\n"                                                           \
	"    protocol: maildir\n"                                              \
	"    path: /var/mail/helpdesk\n"

TEST(pop3_job_has_no_folders)
{
	struct config *cfg = NULL;
	struct err err;
	CHECK_INT(load_text(DB POP3_ACCOUNT
			    "jobs:\n  pop-inbox:\n    account: pop\n    schedule: '@hourly'\n",
			    &cfg, &err), 0);
	if (!cfg) {
		fprintf(stderr, "  %s\n", err.msg);
		return;
	}
	const struct config_account *a = &cfg->accounts[0];
	CHECK_INT(a->protocol, PROTO_POP3);
	CHECK_INT(a->port, 995);
	CHECK(a->path == NULL);
	const struct config_job *j = &cfg->jobs[0];
	CHECK_STR(j->mailbox, "INBOX");
	CHECK(j->archive_folder == NULL);
	CHECK(j->badmail_folder == NULL);
	CHECK(!j->keep_on_server);
	FILE *f = tmpfile();
	config_print_summary(cfg, f);
	rewind(f);
	char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	CHECK(strstr(buf, "done mail: deleted from the server; badmail stays there\n") != NULL);
	CHECK(strstr(buf, "folders:") == NULL);
	config_free(&cfg);
}

TEST(pop3_folder_keys_are_refused)
{
	static const char *const keys[] = {"mailbox", "archive_folder", "badmail_folder"};
	for (size_t i = 0; i < 3; i++) {
		char *text = xasprintf(DB POP3_ACCOUNT "jobs:\n  pop-inbox:\n    account: pop\n"
				       "    %s: Somewhere\n    schedule: '@hourly'\n", keys[i]);
		char *want = xasprintf(":12:5: jobs.pop-inbox.%s: account \"pop\" is pop3, which "
				       "has one mailbox and no folders: done mail is deleted (or "
				       "kept with keep_on_server: true), badmail stays on the "
				       "server", keys[i]);
		CHECK_STR(load_err(text), want);
		free(text);
		free(want);
	}
}

TEST(pop3_logins)
{
	CHECK_STR(load_err(DB POP3_ACCOUNT "    auth: apop\n"
			   "jobs:\n  j:\n    account: pop\n    schedule: '@hourly'\n"), "OK");
	CHECK_STR(load_err(DB POP3_ACCOUNT "    auth: user\n"
			   "jobs:\n  j:\n    account: pop\n    schedule: '@hourly'\n"), "OK");
	CHECK_STR(load_err(DB "accounts:\n  a:\n    protocol: imap\n    host: h\n"
			   "    username: u\n    password_env: M2T_TEST_PW\n    auth: apop\n"
			   "jobs:\n  j:\n    account: a\n    schedule: '@hourly'\n"),
		  ":9:11: accounts.a.auth: apop is a POP3 login; an IMAP account uses auto or "
		  "a SASL mechanism");
	CHECK_STR(load_err(DB POP3_ACCOUNT "    auth: cram\n"
			   "jobs:\n  j:\n    account: pop\n    schedule: '@hourly'\n"),
		  ":9:11: accounts.pop.auth: expected auto, plain, login, cram-md5, scram-sha-1, "
		  "scram-sha-256, ntlm, xoauth2, oauthbearer, apop or user, got \"cram\"");
	struct config *cfg = NULL;
	struct err err;
	CHECK_INT(load_text(DB POP3_ACCOUNT "    security: starttls\n    auth: apop\n"
			    "jobs:\n  j:\n    account: pop\n    schedule: '@hourly'\n", &cfg, &err), 0);
	if (cfg) {
		CHECK_INT(cfg->accounts[0].port, 110);
		CHECK_INT(cfg->accounts[0].auth, AUTH_APOP);
	}
	config_free(&cfg);
}

TEST(maildir_account_is_a_path)
{
	struct config *cfg = NULL;
	struct err err;
	CHECK_INT(load_text(DB MAILDIR_ACCOUNT
			    "jobs:\n  local-inbox:\n    account: local\n    mailbox: Support/Level2\n"
			    "    archive_folder: Done.2024\n    keep_on_server: false\n"
			    "    schedule: '@hourly'\n", &cfg, &err), 0);
	if (!cfg) {
		fprintf(stderr, "  %s\n", err.msg);
		return;
	}
	const struct config_account *a = &cfg->accounts[0];
	CHECK_INT(a->protocol, PROTO_MAILDIR);
	CHECK_STR(a->path, "/var/mail/helpdesk");
	CHECK(a->host == NULL && a->username == NULL && a->password == NULL);
	const struct config_job *j = &cfg->jobs[0];
	CHECK_STR(j->mailbox, "Support/Level2");
	CHECK_STR(j->archive_folder, "Done.2024");
	CHECK_STR(j->badmail_folder, "Badmail");
	FILE *f = tmpfile();
	config_print_summary(cfg, f);
	rewind(f);
	char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	CHECK(strstr(buf, "    maildir:  /var/mail/helpdesk\n") != NULL);
	CHECK(strstr(buf, "folders:  archive Done.2024, badmail Badmail\n") != NULL);
	config_free(&cfg);
}

TEST(maildir_mistakes_name_the_key)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{DB "accounts:\n  local:\n    protocol: maildir\n"
		 "jobs:\n  j:\n    account: local\n    schedule: '@hourly'\n",
		 ":5:5: accounts.local: missing required key \"path\""},
		{DB "accounts:\n  local:\n    protocol: maildir\n    path: var/mail\n"
		 "jobs:\n  j:\n    account: local\n    schedule: '@hourly'\n",
		 ":6:11: accounts.local.path: must be an absolute path"},
		{DB MAILDIR_ACCOUNT "    host: mail.example.com\n"
		 "jobs:\n  j:\n    account: local\n    schedule: '@hourly'\n",
		 ":7:5: accounts.local.host: not used by a maildir account (it reads path: on "
		 "this machine)"},
		{DB MAILDIR_ACCOUNT "    password_env: M2T_TEST_PW\n"
		 "jobs:\n  j:\n    account: local\n    schedule: '@hourly'\n",
		 ":7:5: accounts.local.password_env: not used by a maildir account (it reads "
		 "path: on this machine)"},
		{DB POP3_ACCOUNT "    path: /var/mail\n"
		 "jobs:\n  j:\n    account: pop\n    schedule: '@hourly'\n",
		 ":9:5: accounts.pop.path: only a maildir account has a path"},
		{DB MAILDIR_ACCOUNT "jobs:\n  j:\n    account: local\n    mailbox: ../etc\n"
		 "    schedule: '@hourly'\n",
		 ":10:14: jobs.j.mailbox: a Maildir folder is INBOX or names separated by '/' "
		 "or '.', none empty"},
		{DB MAILDIR_ACCOUNT "jobs:\n  j:\n    account: local\n    archive_folder: Done/\n"
		 "    schedule: '@hourly'\n",
		 ":10:21: jobs.j.archive_folder: a Maildir folder is INBOX or names separated "
		 "by '/' or '.', none empty"},
		{DB MAILDIR_ACCOUNT "jobs:\n  j:\n    account: local\n    badmail_folder: .Bad\n"
		 "    schedule: '@hourly'\n",
		 ":10:21: jobs.j.badmail_folder: a Maildir folder is INBOX or names separated "
		 "by '/' or '.', none empty"},
		{DB MAILDIR_ACCOUNT "jobs:\n  j:\n    account: local\n    keep_on_server: maybe\n"
		 "    schedule: '@hourly'\n",
		 ":10:21: jobs.j.keep_on_server: expected true or false, got \"maybe\""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = load_err(cases[i].text);
		if (strcmp(got, cases[i].want) != 0) {
			fprintf(stderr, "  case %zu:\n    got  %s\n    want %s\n", i, got,
				cases[i].want);
			test_failed_now = 1;
		}
	}
}

#define IMAP_ACCOUNT                                                           \
	"accounts:\n"                                                          \
	"  im:\n"                                                              \
	"    protocol: imap\n"                                                 \
	"    host: imap.example.com\n"                                         \
	"    username: helpdesk\n"                                             \
	"    password_env: M2T_TEST_PW\n"

static void expect_search(const char *q, const char *want_err, bool want_utf8)
{
	bool utf8 = false;
	size_t pos = 0;
	const char *why = NULL;
	int r = config_search_check(q, &utf8, &pos, &why);
	if (!want_err) {
		if (r != 0)
			fprintf(stderr, "  \"%s\" refused at %zu: %s\n", q, pos, why);
		CHECK_INT(r, 0);
		CHECK_INT(utf8, want_utf8);
		return;
	}
	char got[200];
	snprintf(got, sizeof(got), "%zu %s", pos + 1, r == 0 ? "accepted" : why);
	CHECK_STR(got, want_err);
}

TEST(search_grammar)
{
	expect_search("UNSEEN FROM \"@vendor.example\" SINCE 1-Jan-2026", NULL, false);
	expect_search("OR (FROM a@b.example) (SUBJECT \"x \\\"y\\\" z\") NOT DELETED", NULL,
		      false);
	expect_search("SUBJECT \"Störung\"", NULL, true);
	expect_search("UID 1:* LARGER 100", NULL, false);
	expect_search("SUBJECT {5}", "9 literals are not allowed; write a quoted string", false);
	expect_search("SUBJECT \"a\r\nb\"", "11 control character in a quoted string", false);
	expect_search("ALL\r\nA1 DELETE INBOX", "4 line breaks are not allowed", false);
	expect_search("(FROM x", "8 '(' without ')'", false);
	expect_search("FROM x)", "7 ')' without '('", false);
	expect_search("CHARSET UTF-8 ALL", "1 CHARSET is added when needed; leave it out", false);
	expect_search("SUBJECT \"open", "9 quoted string without its closing '\"'", false);
	expect_search("SUBJECT \"a\\b\"", "11 only \\\" and \\\\ may be escaped", false);
	expect_search("FROM \"a\"\"b\"", "9 a space is needed between two search keys", false);
	expect_search("   ", "1 empty query", false);
	expect_search("FROM %", "6 character not allowed here (atoms, \"quoted strings\", numbers "
		      "and parentheses only)", false);
	expect_search("((((((((((((((((((ALL))))))))))))))))))",
		      "17 parentheses nested more than 16 deep", false);
}

TEST(fetch_and_search_keys)
{
	struct config *cfg = NULL;
	struct err err;
	CHECK_INT(load_text(DB IMAP_ACCOUNT "jobs:\n  j:\n    account: im\n    fetch: unseen\n"
			    "    search: 'FROM \"@vendor.example\" SUBJECT \"Störung\"'\n"
			    "    schedule: '@hourly'\n", &cfg, &err), 0);
	if (cfg) {
		CHECK_INT(cfg->jobs[0].fetch, JOB_FETCH_UNSEEN);
		CHECK_STR(cfg->jobs[0].search, "FROM \"@vendor.example\" SUBJECT \"Störung\"");
		CHECK(cfg->jobs[0].search_utf8);
		config_free(&cfg);
	} else {
		fprintf(stderr, "  %s\n", err.msg);
		test_failed_now = 1;
	}
	CHECK_STR(load_err(DB IMAP_ACCOUNT "jobs:\n  j:\n    account: im\n"
			   "    search: 'SUBJECT {3}'\n    schedule: '@hourly'\n"),
		  ":12:13: jobs.j.search: search query at byte 9: literals are not allowed; "
		  "write a quoted string");
	CHECK_STR(load_err(DB IMAP_ACCOUNT "jobs:\n  j:\n    account: im\n"
			   "    fetch: some\n    schedule: '@hourly'\n"),
		  ":12:12: jobs.j.fetch: expected all or unseen, got \"some\"");
	CHECK_STR(load_err(DB POP3_ACCOUNT "jobs:\n  j:\n    account: pop\n"
			   "    fetch: unseen\n    schedule: '@hourly'\n"),
		  ":12:12: jobs.j.fetch: account \"pop\" is pop3, which keeps no seen flags: "
		  "only fetch: all");
	CHECK_STR(load_err(DB MAILDIR_ACCOUNT "jobs:\n  j:\n    account: local\n"
			   "    search: UNSEEN\n    schedule: '@hourly'\n"),
		  ":10:5: jobs.j.search: search: is an IMAP query; account \"local\" is not imap");
	CHECK_STR(load_err(DB MAILDIR_ACCOUNT "jobs:\n  j:\n    account: local\n"
			   "    fetch: unseen\n    schedule: '@hourly'\n"), "OK");
}

/* keep_on_server on IMAP marks done mail \Seen unless mark_seen: false;
 * mark_seen anywhere else is a mistake, named at its key. */
TEST(keep_and_mark_seen)
{
	static const char *const texts[] = {
		DB IMAP_ACCOUNT "jobs:\n  j:\n    account: im\n    keep_on_server: true\n"
		"    schedule: '@hourly'\n",
		DB IMAP_ACCOUNT "jobs:\n  j:\n    account: im\n    keep_on_server: true\n"
		"    mark_seen: false\n    schedule: '@hourly'\n",
		DB IMAP_ACCOUNT "jobs:\n  j:\n    account: im\n    schedule: '@hourly'\n",
		DB POP3_ACCOUNT "jobs:\n  j:\n    account: pop\n    keep_on_server: true\n"
		"    schedule: '@hourly'\n",
	};
	static const bool keep[] = {true, true, false, true};
	static const bool mark[] = {true, false, false, false};
	static const char *const summary[] = {
		"done mail: kept on the server, remembered, marked \\Seen (badmail stays unread)\n",
		"done mail: kept on the server, remembered\n",
		"folders:  archive Processed, badmail Badmail\n",
		"done mail: kept on the server, remembered\n",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct config *cfg = NULL;
		struct err err;
		if (load_text(texts[i], &cfg, &err) < 0) {
			fprintf(stderr, "  case %zu: %s\n", i, err.msg);
			test_failed_now = 1;
			continue;
		}
		CHECK_INT(cfg->jobs[0].keep_on_server, keep[i]);
		CHECK_INT(cfg->jobs[0].mark_seen, mark[i]);
		FILE *f = tmpfile();
		config_print_summary(cfg, f);
		rewind(f);
		char buf[4096];
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		fclose(f);
		if (!strstr(buf, summary[i])) {
			fprintf(stderr, "  case %zu: no \"%s\" in the summary\n", i, summary[i]);
			test_failed_now = 1;
		}
		config_free(&cfg);
	}
	CHECK_STR(load_err(DB IMAP_ACCOUNT "jobs:\n  j:\n    account: im\n"
			   "    mark_seen: true\n    schedule: '@hourly'\n"),
		  ":12:5: jobs.j.mark_seen: mark_seen: goes with keep_on_server: true; a job "
		  "that moves its mail marks nothing");
	CHECK_STR(load_err(DB POP3_ACCOUNT "jobs:\n  j:\n    account: pop\n"
			   "    keep_on_server: true\n    mark_seen: true\n    schedule: '@hourly'\n"),
		  ":13:5: jobs.j.mark_seen: mark_seen: is for IMAP; account \"pop\" is pop3, whose "
		  "kept mail is never marked");
	CHECK_STR(load_err(DB MAILDIR_ACCOUNT "jobs:\n  j:\n    account: local\n"
			   "    keep_on_server: true\n    mark_seen: false\n    schedule: '@hourly'\n"),
		  ":11:5: jobs.j.mark_seen: mark_seen: is for IMAP; account \"local\" is maildir, "
		  "whose kept mail is never marked");
	CHECK_STR(load_err(DB IMAP_ACCOUNT "jobs:\n  j:\n    account: im\n"
			   "    keep_on_server: true\n    mark_seen: often\n    schedule: '@hourly'\n"),
		  ":13:16: jobs.j.mark_seen: expected true or false, got \"often\"");
}

int main(void)
{
	if (config_dir_make("config-src") < 0)
		return 2;
	setenv("M2T_TEST_PW", "pop-Secret-77", 1);
	log_set_level(LOG_ERROR);

	RUN(pop3_job_has_no_folders);
	RUN(pop3_folder_keys_are_refused);
	RUN(pop3_logins);
	RUN(maildir_account_is_a_path);
	RUN(maildir_mistakes_name_the_key);
	RUN(search_grammar);
	RUN(fetch_and_search_keys);
	RUN(keep_and_mark_seen);

	config_dir_remove();
	log_clear_secrets();
	return test_summary();
}
