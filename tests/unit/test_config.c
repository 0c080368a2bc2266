/*
 * The configuration file: good files with every default resolved and every
 * key read, and secrets kept out of messages and summaries. Bad files and
 * cut files: test_config_errors.c.
 */
#include "tests/unit/config_text.h"

TEST(observability_keys)
{
	struct config *cfg = NULL;
	struct err err;
	CHECK_INT(load_text(MINIMAL "log_format: json\nmetrics_listen: 127.0.0.1:9464\n", &cfg, &err), 0);
	if (cfg) {
		CHECK_STR(cfg->log_format, "json");
		CHECK_STR(cfg->metrics_listen, "127.0.0.1:9464");
		CHECK_STR(cfg->metrics_host, "127.0.0.1");
		CHECK_INT(cfg->metrics_port, 9464);
		config_free(&cfg);
	}
	CHECK_INT(load_text(MINIMAL "metrics_listen: \"[::1]:1\"\n", &cfg, &err), 0);
	if (cfg) {
		CHECK_STR(cfg->metrics_host, "::1");
		CHECK_INT(cfg->metrics_port, 1);
		config_free(&cfg);
	}
	CHECK_INT(load_text(MINIMAL "metrics_listen: localhost:65535\n", &cfg, &err), 0);
	if (cfg) {
		CHECK_STR(cfg->metrics_host, "localhost");
		CHECK_INT(cfg->metrics_port, 65535);
		CHECK(cfg->log_format == NULL);
		config_free(&cfg);
	}
	CHECK_INT(load_text(MINIMAL, &cfg, &err), 0);
	if (cfg) {
		CHECK(cfg->metrics_listen == NULL);
		config_free(&cfg);
	}
}

TEST(daemon_pool_keys)
{
	struct config *cfg = NULL;
	struct err err;
	CHECK_INT(load_text(MINIMAL, &cfg, &err), 0);
	if (cfg) {
		/* not given: the daemon's command line or defaults decide */
		CHECK_INT(cfg->workers, 0);
		CHECK_INT(cfg->max_workers, 0);
		CHECK_INT(cfg->accounts[0].max_concurrent_runs, CONFIG_ACCOUNT_RUNS_DEFAULT);
		config_free(&cfg);
	}
	CHECK_INT(load_text(BASE_DB BASE_ACCOUNT "    max_concurrent_runs: 2\n" BASE_JOB
			    "workers: 8\nmax_workers: 8\n", &cfg, &err), 0);
	if (cfg) {
		CHECK_INT(cfg->workers, 8);
		CHECK_INT(cfg->max_workers, 8);
		CHECK_INT(cfg->accounts[0].max_concurrent_runs, 2);
		config_free(&cfg);
	}
	/* either alone */
	CHECK_INT(load_text(MINIMAL "max_workers: 2\n", &cfg, &err), 0);
	if (cfg) {
		CHECK_INT(cfg->workers, 0);
		CHECK_INT(cfg->max_workers, 2);
		config_free(&cfg);
	}
}

TEST(minimal_config_gets_every_default)
{
	struct config *cfg = NULL;
	struct err err;
	CHECK_INT(load_text(MINIMAL, &cfg, &err), 0);
	if (!cfg) {
		fprintf(stderr, "  %s\n", err.msg);
		return;
	}
	CHECK_STR(cfg->path, g_cfg);
	CHECK_STR(cfg->database_url, DB_URL);
	CHECK_STR(cfg->database_url_env, "M2T_TEST_DB");
	CHECK(cfg->job_runs_retention_s == 30 * 86400);
	CHECK(cfg->log_level == NULL);
	CHECK_INT(cfg->naccounts, 1);
	struct config_account *a = &cfg->accounts[0];
	CHECK_STR(a->name, "support");
	CHECK_INT(a->line, 4);
	CHECK_INT(a->protocol, PROTO_IMAP);
	CHECK_STR(a->host, "imap.example.com");
	CHECK_INT(a->port, 993);
	CHECK_INT(a->security, SEC_TLS);
	CHECK(a->tls.verify);
	CHECK(a->tls.ca_file == NULL && a->tls.ca_path == NULL && a->tls.server_name == NULL);
	CHECK_INT(a->tls.min_version, 0);
	CHECK_INT(a->tls.max_version, 0);
	CHECK_STR(a->username, "support@example.com");
	CHECK_STR(a->password, ENV_PW);
	CHECK_INT(a->password_source, SECRET_ENV);
	CHECK_STR(a->password_ref, "M2T_TEST_PW");
	CHECK_INT(a->auth, AUTH_AUTO);
	CHECK_INT(a->timeout_ms, 30000);
	CHECK(a->charset_fallback == NULL);
	CHECK_INT(cfg->njobs, 1);
	struct config_job *j = &cfg->jobs[0];
	CHECK_STR(j->name, "support-inbox");
	CHECK_INT(j->line, 10);
	CHECK(j->account == a);
	CHECK_STR(j->mailbox, "INBOX");
	CHECK_STR(j->archive_folder, "Processed");
	CHECK_STR(j->badmail_folder, "Badmail");
	CHECK_STR(j->schedule, "*/5 * * * *");
	CHECK(j->cron && cron_kind(j->cron) == CRON_FIELDS);
	CHECK(j->timezone == NULL);
	CHECK(j->tz && strcmp(tz_name(j->tz), "UTC") == 0);
	time_t next;
	CHECK(cron_next(j->cron, j->tz, 1767225600, &next) == 0 && next == 1767225600 + 300);
	CHECK_INT(j->batch_size, 500);
	CHECK(j->keep_raw);
	CHECK(!j->attach_html);
	CHECK(!j->keep_on_server);
	CHECK_INT(j->limits.max_size, 25 * 1024 * 1024);
	CHECK_INT(j->limits.max_parts, 500);
	CHECK_INT(j->limits.max_depth, 20);
	CHECK_INT(j->limits.max_header_bytes, 1024 * 1024);
	CHECK_INT(j->limits.max_text_bytes, 4 * 1024 * 1024);
	CHECK(config_find_job(cfg, "support-inbox") == j);
	CHECK(config_find_job(cfg, "nope") == NULL);
	config_free(&cfg);
	CHECK(cfg == NULL);
	config_free(&cfg);
}

TEST(full_config_reads_every_key)
{
	struct config *cfg = NULL;
	struct err err;
	CHECK_INT(load_text(full_config, &cfg, &err), 0);
	if (!cfg) {
		fprintf(stderr, "  %s\n", err.msg);
		return;
	}
	CHECK_STR(cfg->database_url, DB_URL);
	CHECK(cfg->database_url_env == NULL);
	CHECK(cfg->job_runs_retention_s == 7 * 86400);
	CHECK_STR(cfg->log_level, "debug");
	CHECK_INT(cfg->naccounts, 2);
	struct config_account *a = &cfg->accounts[0];
	CHECK_INT(a->port, 10993);
	CHECK(a->tls.verify);
	CHECK_STR(a->tls.ca_file, "/etc/ssl/ca.pem");
	CHECK_STR(a->tls.ca_path, "/etc/ssl/certs");
	CHECK_STR(a->tls.server_name, "mail.example.com");
	CHECK_INT(a->tls.min_version, 12);
	CHECK_INT(a->tls.max_version, 13);
	CHECK_STR(a->password, FILE_PW);   /* one trailing newline stripped */
	CHECK_INT(a->password_source, SECRET_FILE);
	CHECK(a->password_ref && strstr(a->password_ref, "/pw"));
	CHECK_INT(a->auth, AUTH_LOGIN);
	CHECK_STR(a->charset_fallback, "windows-1251");
	CHECK_INT(a->timeout_ms, 60000);
	struct config_account *b = &cfg->accounts[1];
	CHECK_STR(b->name, "sales.pop");
	CHECK_INT(b->protocol, PROTO_POP3);
	CHECK_INT(b->security, SEC_STARTTLS);
	CHECK_INT(b->port, 110);
	CHECK_INT(b->timeout_ms, 45000);
	CHECK_INT(cfg->njobs, 3);
	struct config_job *j = config_find_job(cfg, "support-inbox");
	struct config_job *n = config_find_job(cfg, "nightly");
	CHECK(j && j->account == a);
	if (j && n) {
		CHECK_STR(j->timezone, "Europe/Berlin");
		/* one zone loaded for both jobs, and the default UTC for the other */
		CHECK(j->tz == n->tz);
		CHECK_INT(cfg->nzones, 2);
		CHECK_STR(n->schedule, "30 2 * * mon-fri");
		time_t next;
		/* Friday 2026-03-27 12:00 UTC: next Monday 02:30 CEST = 00:30 UTC */
		CHECK(cron_next(n->cron, n->tz, 1774612800, &next) == 0 && next == 1774830600);
	}
	if (j) {
		CHECK_STR(j->mailbox, "INBOX/Support");
		CHECK_STR(j->archive_folder, "Archive/Done");
		CHECK_STR(j->badmail_folder, "Junk.Bad");
		CHECK_INT(j->limits.max_size, 10 * 1024 * 1024);
		CHECK_INT(j->batch_size, 250);
		CHECK(!j->keep_raw);
		CHECK(j->attach_html);
		CHECK(!j->keep_on_server);
		CHECK_INT(j->limits.max_parts, 50);
		CHECK_INT(j->limits.max_depth, 5);
		CHECK_INT(j->limits.max_header_bytes, 64 * 1024);
		CHECK_INT(j->limits.max_text_bytes, 2 * 1024 * 1024);
	}
	j = config_find_job(cfg, "sales_1");
	CHECK(j && j->account == b);
	if (j) {
		/* pop3: the one mailbox, no folders */
		CHECK_STR(j->mailbox, "INBOX");
		CHECK(j->archive_folder == NULL && j->badmail_folder == NULL);
		CHECK(j->keep_on_server);
		CHECK_STR(j->schedule, "@hourly");
		CHECK(j->timezone == NULL && j->tz && strcmp(tz_name(j->tz), "UTC") == 0);
		CHECK_INT(j->limits.max_parts, 10);
		CHECK_INT(j->limits.max_depth, 20);
	}
	config_free(&cfg);
}

TEST(default_ports_follow_protocol_and_security)
{
	static const struct {
		const char *proto, *sec;
		unsigned port;
	} cases[] = {
		{"imap", "tls", 993}, {"imap", "starttls", 143}, {"imap", "none", 143},
		{"pop3", "tls", 995}, {"pop3", "starttls", 110}, {"pop3", "none", 110},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = xasprintf(BASE_DB "accounts:\n  a:\n    protocol: %s\n"
				       "    security: %s\n    host: h\n    username: u\n"
				       "    password_env: M2T_TEST_PW\n" BASE_JOB,
				       cases[i].proto, cases[i].sec);
		char *fixed = xstrdup(text);
		/* BASE_JOB names "support"; this account is "a" */
		char *acc = strstr(fixed, "account: support");
		memcpy(acc, "account: a      ", strlen("account: a      "));
		struct config *cfg = NULL;
		struct err err;
		CHECK_INT(load_text(fixed, &cfg, &err), 0);
		if (cfg)
			CHECK_INT(cfg->accounts[0].port, cases[i].port);
		else
			fprintf(stderr, "  %s\n", err.msg);
		config_free(&cfg);
		free(fixed);
		free(text);
	}
}

TEST(unquoted_and_block_tls_settings)
{
	struct config *cfg = NULL;
	struct err err;
	CHECK_INT(load_text(BASE_DB "accounts:\n  support:\n    protocol: imap\n"
			    "    host: h\n    username: u\n    password_env: M2T_TEST_PW\n"
			    "    tls:\n      verify: false\n      min_version: 1.0\n"
			    "      max_version: 1.1\n" BASE_JOB, &cfg, &err), 0);
	if (cfg) {
		CHECK(!cfg->accounts[0].tls.verify);
		CHECK_INT(cfg->accounts[0].tls.min_version, 10);
		CHECK_INT(cfg->accounts[0].tls.max_version, 11);
	}
	config_free(&cfg);
}

TEST(security_auth_timeouts_and_pins)
{
	struct config *cfg = NULL;
	struct err err;
	/* hex with colons and base64 name the same key; a bare number is ms */
	CHECK_INT(load_text(BASE_DB "accounts:\n  support:\n    protocol: imap\n"
			    "    host: h\n    username: u\n    password_env: M2T_TEST_PW\n"
			    "    security: starttls-optional\n    auth: scram-sha-256\n"
			    "    timeout: 20s\n    io_timeout: 1500\n    session_timeout: 10m\n"
			    "    tls:\n      ciphers: ECDHE+AESGCM:!aNULL\n"
			    "      ciphersuites: TLS_AES_256_GCM_SHA384\n"
			    "      pin_sha256:\n"
			    "        - \"sha256//AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"\n"
			    "        - 00:01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:"
			    "10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F\n"
			    BASE_JOB, &cfg, &err), 0);
	if (!cfg) {
		fprintf(stderr, "  %s\n", err.msg);
		return;
	}
	const struct config_account *a = &cfg->accounts[0];
	CHECK_INT(a->security, SEC_STARTTLS_OPTIONAL);
	CHECK_INT(a->port, 143);
	CHECK_INT(a->auth, AUTH_SCRAM_SHA_256);
	CHECK_STR(config_auth_name(a->auth), "scram-sha-256");
	CHECK_STR(config_security_name(a->security), "starttls-optional");
	CHECK_INT(a->timeout_ms, 20000);
	CHECK_INT(a->connect_timeout_ms, 20000);
	CHECK_INT(a->io_timeout_ms, 1500);
	CHECK_INT(a->session_timeout_ms, 600000);
	CHECK_STR(a->tls.ciphers, "ECDHE+AESGCM:!aNULL");
	CHECK_STR(a->tls.ciphersuites, "TLS_AES_256_GCM_SHA384");
	CHECK_INT(a->tls.npins, 2);
	for (int i = 0; i < 32; i++) {
		CHECK_INT(a->tls.pins[0][i], i);
		CHECK_INT(a->tls.pins[1][i], i);
	}
	config_free(&cfg);
	/* defaults: no session bound, connect and io from timeout */
	CHECK_INT(load_text(MINIMAL, &cfg, &err), 0);
	if (cfg) {
		CHECK_INT(cfg->accounts[0].connect_timeout_ms, 30000);
		CHECK_INT(cfg->accounts[0].io_timeout_ms, 30000);
		CHECK_INT(cfg->accounts[0].session_timeout_ms, 0);
		CHECK_INT(cfg->accounts[0].tls.npins, 0);
	}
	config_free(&cfg);
}

/* Reads what f holds from the start. */
static char *stream_text(FILE *f)
{
	fflush(f);
	long n = ftell(f);
	char *s = xmalloc((size_t)(n > 0 ? n : 0) + 1);
	rewind(f);
	size_t got = fread(s, 1, (size_t)(n > 0 ? n : 0), f);
	s[got] = '\0';
	return s;
}

TEST(summary_shows_sources_not_secrets)
{
	struct config *cfg = NULL;
	struct err err;
	CHECK_INT(load_text(full_config, &cfg, &err), 0);
	if (!cfg)
		return;
	FILE *f = tmpfile();
	config_print_summary(cfg, f);
	char *s = stream_text(f);
	fclose(f);
	CHECK(strstr(s, "database: postgresql://m2t:***@db.example.com/m2t\n") != NULL);
	CHECK(strstr(s, "server:   imap imap.example.com:10993\n") != NULL);
	CHECK(strstr(s, "security: tls, verify yes\n") != NULL);
	CHECK(strstr(s, "tls versions: 1.2 to 1.3\n") != NULL);
	CHECK(strstr(s, "password: from file ") != NULL);
	CHECK(strstr(s, "password: from env M2T_TEST_PW\n") != NULL);
	CHECK(strstr(s, "server:   pop3 pop.example.com:110\n") != NULL);
	CHECK(strstr(s, "mailbox:  INBOX/Support\n") != NULL);
	CHECK(strstr(s, "folders:  archive Archive/Done, badmail Junk.Bad\n") != NULL);
	CHECK(strstr(s, "done mail: kept on the server, remembered\n") != NULL);
	CHECK(strstr(s, "schedule: */5 * * * *\n") != NULL);
	CHECK(strstr(s, "when:     every 5 minutes, time zone Europe/Berlin\n") != NULL);
	CHECK(strstr(s, "when:     at minute 0 of every hour, time zone UTC (default)\n") != NULL);
	CHECK(strstr(s, "when:     at 02:30 on Mon-Fri, time zone Europe/Berlin\n") != NULL);
	CHECK(strstr(s, "limits:   message 10 MB, 50 parts, depth 5, headers 64 KB, text 2 MB\n"));
	CHECK(strstr(s, "auth:     login\n") != NULL);
	CHECK(strstr(s, "timeouts: connect 1m, each read/write 1m, session unbounded\n") != NULL);
	CHECK(strstr(s, "db-Secret-42") == NULL);
	CHECK(strstr(s, FILE_PW) == NULL);
	CHECK(strstr(s, ENV_PW) == NULL);
	free(s);
	config_free(&cfg);

	CHECK_INT(load_text(BASE_DB BASE_ACCOUNT BASE_JOB, &cfg, &err), 0);
	if (!cfg)
		return;
	f = tmpfile();
	config_print_summary(cfg, f);
	s = stream_text(f);
	fclose(f);
	CHECK(strstr(s, "database: from env M2T_TEST_DB\n") != NULL);
	CHECK(strstr(s, "db-Secret-42") == NULL);
	CHECK(strstr(s, "log_level: info (default)\n") != NULL);
	free(s);
	config_free(&cfg);
}

TEST(database_urls_are_masked_in_every_form)
{
	static const struct {
		const char *url, *want;
	} cases[] = {
		{"postgresql://u:pw-Secret-1@h:5432/db?sslmode=require",
		 "database: postgresql://u:***@h:5432/db?sslmode=require\n"},
		{"postgresql://u@h/db?password=pw-Secret-1&sslmode=require",
		 "database: postgresql://u@h/db?password=***&sslmode=require\n"},
		{"host=h dbname=db password = 'pw-Secret-1 x' user=u",
		 "database: host=h dbname=db password = *** user=u\n"},
		{"host=h password=pw-Secret-1", "database: host=h password=***\n"},
		{"postgresql:///db", "database: postgresql:///db\n"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *yaml = xasprintf("database:\n  url: \"%s\"\n" BASE_ACCOUNT BASE_JOB,
				       cases[i].url);
		struct config *cfg = NULL;
		struct err err;
		CHECK_INT(load_text(yaml, &cfg, &err), 0);
		free(yaml);
		if (!cfg)
			continue;
		FILE *f = tmpfile();
		config_print_summary(cfg, f);
		char *s = stream_text(f);
		fclose(f);
		if (!strstr(s, cases[i].want)) {
			fprintf(stderr, "  case %zu: summary lacks %s%s", i, cases[i].want, s);
			test_failed_now = 1;
		}
		CHECK(strstr(s, "pw-Secret-1") == NULL);
		free(s);
		config_free(&cfg);
	}
}

/* Configs that fail near an inline password: the message must not show it. */
TEST(password_never_in_error_messages)
{
	static const char *const cases[] = {
		BASE_DB "accounts:\n  a:\n    protocol: imap\n    host: h\n    username: u\n"
		"    password: " INLINE_PW "\n    port: " INLINE_PW "\n" BASE_JOB,
		BASE_DB "accounts:\n  a:\n    protocol: imap\n    host: h\n    username: u\n"
		"    password: [" INLINE_PW "]\n" BASE_JOB,
		BASE_DB "accounts:\n  a:\n    protocol: imap\n    host: h\n    username: u\n"
		"    password: { " INLINE_PW ": 1 }\n" BASE_JOB,
		BASE_DB "accounts:\n  a:\n    protocol: imap\n    host: h\n    username: u\n"
		"    password: \"" INLINE_PW "\\n\"\n" BASE_JOB,
		BASE_DB "accounts:\n  a:\n    protocol: imap\n    host: h\n    username: u\n"
		"    password: \"" INLINE_PW "\n" BASE_JOB,
		BASE_DB "accounts:\n  a:\n    protocol: imap\n    host: h\n    username: u\n"
		"    password: " INLINE_PW "\n    password: " INLINE_PW "\n" BASE_JOB,
		BASE_DB "accounts:\n  a:\n    protocol: imap\n    host: h\n    username: u\n"
		"    password: &x " INLINE_PW "\n" BASE_JOB,
		BASE_DB "accounts:\n  a:\n    protocol: imap\n    host: h\n    username: u\n"
		"    password: " INLINE_PW "\n" BASE_JOB,  /* job names "support": error */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = load_err(cases[i]);
		CHECK(strcmp(got, "OK") != 0);
		if (strstr(got, INLINE_PW)) {
			fprintf(stderr, "  case %zu shows the password: %s\n", i, got);
			test_failed_now = 1;
		}
	}
	/* the password pasted under another key is shown as *** */
	CHECK_STR(load_err(cases[0]), ":9:11: accounts.a.port: expected an integer 1-65535, "
		  "got \"***\"");
	/* the file's content is never quoted either */
	char *path = xasprintf("%s/nul", g_dir);
	file_write(path, FILE_PW "\0x\n", sizeof(FILE_PW) + 2, 0600);
	const char *got = load_err(BASE_DB "accounts:\n  a:\n    protocol: imap\n    host: h\n"
				   "    username: u\n    password_file: @DIR@/nul\n" BASE_JOB);
	CHECK_STR(got, ":8:20: accounts.a.password_file: \"DIR/nul\" must hold one line "
		  "without NUL bytes");
	CHECK(strstr(got, FILE_PW) == NULL);
	unlink(path);
	free(path);
}

/* Every password the config resolves is redacted from log lines. */
TEST(passwords_are_registered_as_secrets)
{
	struct config *cfg = NULL;
	struct err err;
	log_clear_secrets();
	CHECK_INT(load_text(full_config, &cfg, &err), 0);
	if (!cfg)
		return;
	char *logpath = xasprintf("%s/log", g_dir);
	fflush(stderr);
	int saved = dup(2);
	int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	log_error("test.secret", "a=%s b=%s db=%s", cfg->accounts[0].password,
		  cfg->accounts[1].password, cfg->database_url);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	FILE *f = fopen(logpath, "r");
	char line[1024] = "";
	CHECK(f && fgets(line, sizeof(line), f));
	if (f)
		fclose(f);
	CHECK(strstr(line, "a=*** b=*** db=postgresql://m2t:***@db.example.com/m2t") != NULL);
	CHECK(strstr(line, "Secret") == NULL);
	unlink(logpath);
	free(logpath);
	config_free(&cfg);
}

TEST(inline_password_and_open_password_file_warn_but_work)
{
	char *path = xasprintf("%s/pw-open", g_dir);
	file_write(path, FILE_PW "\r\n", strlen(FILE_PW) + 2, 0644);
	struct config *cfg = NULL;
	struct err err;
	CHECK_INT(load_text(BASE_DB "accounts:\n  a:\n    protocol: imap\n    host: h\n"
			    "    username: u\n    password_file: @DIR@/pw-open\n"
			    "  b:\n    protocol: imap\n    host: h\n    username: u\n"
			    "    password: " INLINE_PW "\n"
			    "jobs:\n  j:\n    account: b\n    schedule: \"@hourly\"\n", &cfg, &err), 0);
	if (cfg) {
		CHECK_STR(cfg->accounts[0].password, FILE_PW);
		CHECK_STR(cfg->accounts[1].password, INLINE_PW);
		CHECK_INT(cfg->accounts[1].password_source, SECRET_INLINE);
		CHECK(cfg->accounts[1].password_ref == NULL);
	} else {
		fprintf(stderr, "  %s\n", err.msg);
	}
	config_free(&cfg);
	unlink(path);
	free(path);
}

int main(void)
{
	if (config_text_setup() < 0)
		return 2;

	RUN(minimal_config_gets_every_default);
	RUN(observability_keys);
	RUN(daemon_pool_keys);
	RUN(full_config_reads_every_key);
	RUN(default_ports_follow_protocol_and_security);
	RUN(unquoted_and_block_tls_settings);
	RUN(security_auth_timeouts_and_pins);
	RUN(summary_shows_sources_not_secrets);
	RUN(database_urls_are_masked_in_every_form);
	RUN(password_never_in_error_messages);
	RUN(passwords_are_registered_as_secrets);
	RUN(inline_password_and_open_password_file_warn_but_work);

	config_text_cleanup();
	log_clear_secrets();
	return test_summary();
}
