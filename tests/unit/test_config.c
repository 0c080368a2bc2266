/*
 * The configuration file: good files with every default resolved, bad files
 * with the exact message an admin would see (file:line:column and the key
 * path), secrets kept out of messages and summaries, and every prefix of a
 * valid file loading or failing cleanly (Dovecot's byte-at-a-time habit).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/config/config.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"
#include "rules/yaml_tree.h"
#include "tests/unit/test.h"

/*
 * engine/mime may not be linked into this test (or not be written yet):
 * a weak copy of the documented defaults; the real one wins when present.
 */
__attribute__((weak)) void mime_limits_default(struct mime_limits *lim)
{
	lim->max_size = 25ULL * 1024 * 1024;
	lim->max_parts = 500;
	lim->max_depth = 20;
	lim->max_header_bytes = 1024 * 1024;
	lim->max_text_bytes = 4ULL * 1024 * 1024;
}

#define DB_URL "postgresql://m2t:db-Secret-42@db.example.com/m2t"
#define ENV_PW "env-Secret-1234"
#define FILE_PW "file-Secret-5678"
#define INLINE_PW "inline-Secret-9012"

static char g_dir[256];
static char g_cfg[300];
static char g_pwfile[300];

static void file_write(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		perror(path);
		exit(2);
	}
	fchmod(fd, mode);
	close(fd);
}

/* Replaces @DIR@ with the test directory; caller frees. */
static char *subst(const char *tmpl)
{
	size_t n = 0;
	for (const char *p = tmpl; (p = strstr(p, "@DIR@")); p += 5)
		n++;
	char *out = xmalloc(strlen(tmpl) + n * strlen(g_dir) + 1);
	char *o = out;
	for (const char *p = tmpl; *p;) {
		if (strncmp(p, "@DIR@", 5) == 0) {
			memcpy(o, g_dir, strlen(g_dir));
			o += strlen(g_dir);
			p += 5;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

static int load_text(const char *tmpl, struct config **cfg, struct err *err)
{
	char *text = subst(tmpl);
	file_write(g_cfg, text, strlen(text), 0600);
	free(text);
	err_clear(err);
	return config_load(g_cfg, cfg, err);
}

/*
 * The error for a config, with the config's path cut from the front and the
 * test directory shown as "DIR", so expectations read like what an admin
 * sees: ":12:14: accounts.support.port: ...". "OK" when it loaded.
 */
static const char *load_err(const char *tmpl)
{
	static char out[600];
	struct config *cfg = NULL;
	struct err err;
	if (load_text(tmpl, &cfg, &err) == 0) {
		config_free(&cfg);
		return "OK";
	}
	if (err.cls != ERR_FATAL || cfg != NULL)
		return "BAD CLASS OR RESULT";
	const char *m = err.msg;
	size_t o = 0;
	if (strncmp(m, g_cfg, strlen(g_cfg)) == 0)
		m += strlen(g_cfg);
	while (*m && o + 1 < sizeof(out)) {
		if (strncmp(m, g_dir, strlen(g_dir)) == 0) {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "DIR");
			m += strlen(g_dir);
		} else {
			out[o++] = *m++;
		}
	}
	out[o] = '\0';
	return out;
}

#define BASE_DB "database:\n  url_env: M2T_TEST_DB\n"
#define BASE_ACCOUNT                                                           \
	"accounts:\n"                                                          \
	"  support:\n"                                                         \
	"    protocol: imap\n"                                                 \
	"    host: imap.example.com\n"                                         \
	"    username: support@example.com\n"                                  \
	"    password_env: M2T_TEST_PW\n"
#define BASE_JOB                                                               \
	"jobs:\n"                                                              \
	"  support-inbox:\n"                                                   \
	"    account: support\n"                                               \
	"    schedule: \"*/5 * * * *\"\n"
#define MINIMAL BASE_DB BASE_ACCOUNT BASE_JOB

/* Every key the contract knows, the way an admin would write them. */
static const char full_config[] =
	"# full example\n"
	"database:\n"
	"  url: \"" DB_URL "\"\n"
	"  job_runs_retention: 7d\n"
	"log_level: debug\n"
	"accounts:\n"
	"  support:\n"
	"    protocol: imap\n"
	"    host: imap.example.com\n"
	"    port: 10993\n"
	"    security: tls\n"
	"    tls: { verify: yes, ca_file: /etc/ssl/ca.pem, ca_path: /etc/ssl/certs,\n"
	"           min_version: 1.2, max_version: \"1.3\", server_name: mail.example.com }\n"
	"    username: support@example.com\n"
	"    password_file: @DIR@/pw\n"
	"    auth: login\n"
	"    timeout: 1m\n"
	"    charset_fallback: windows-1251\n"
	"  sales.pop:\n"
	"    protocol: pop3\n"
	"    host: pop.example.com\n"
	"    security: starttls\n"
	"    username: sales\n"
	"    password_env: M2T_TEST_PW\n"
	"    timeout: 45000\n"
	"jobs:\n"
	"  support-inbox:\n"
	"    account: support\n"
	"    mailbox: INBOX/Support\n"
	"    archive_folder: Archive/Done\n"
	"    badmail_folder: Junk.Bad\n"
	"    schedule: \"*/5 * * * *\"\n"
	"    timezone: Europe/Berlin\n"
	"    max_message_size: 10MB\n"
	"    batch_size: 250\n"
	"    keep_raw: false\n"
	"    attach_html: true\n"
	"    limits: { max_parts: 50, max_depth: 5, max_header_bytes: 64k, max_text_bytes: 2MiB }\n"
	"  sales_1:\n"
	"    account: sales.pop\n"
	"    keep_on_server: yes\n"
	"    schedule: '@hourly'\n"
	"    limits:\n"
	"      max_parts: 10\n"
	"  nightly:\n"
	"    account: support\n"
	"    schedule: 30 2 * * mon-fri\n"
	"    timezone: Europe/Berlin\n";

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

TEST(bad_configs_name_position_and_key)
{
	static const struct {
		const char *yaml;
		const char *want;
	} cases[] = {
		/* unknown keys, with a hint for a near miss */
		{BASE_DB BASE_ACCOUNT "    prot: 993\n" BASE_JOB,
		 ":9:5: accounts.support: unknown key \"prot\" (did you mean \"port\"?)"},
		{BASE_DB BASE_ACCOUNT BASE_JOB "    colour: blue\n",
		 ":13:5: jobs.support-inbox: unknown key \"colour\""},
		{"databse:\n  url_env: M2T_TEST_DB\n" BASE_ACCOUNT BASE_JOB,
		 ":1:1: unknown key \"databse\" (did you mean \"database\"?)"},
		/* wrong types */
		{BASE_DB BASE_ACCOUNT "    port: [993]\n" BASE_JOB,
		 ":9:11: accounts.support.port: expected an integer 1-65535, got a sequence"},
		{BASE_DB BASE_ACCOUNT "    port: \"993\"\n" BASE_JOB,
		 ":9:11: accounts.support.port: expected an integer 1-65535, got the string \"993\""},
		{BASE_DB BASE_ACCOUNT "    host2: x\n" BASE_JOB,
		 ":9:5: accounts.support: unknown key \"host2\" (did you mean \"host\"?)"},
		{BASE_DB "accounts: [support]\n" BASE_JOB,
		 ":3:11: accounts: expected a mapping, got a sequence"},
		{BASE_DB BASE_ACCOUNT "    tls: { verify: maybe }\n" BASE_JOB,
		 ":9:20: accounts.support.tls.verify: expected true or false, got \"maybe\""},
		{BASE_DB BASE_ACCOUNT "    tls: { verify: \"true\" }\n" BASE_JOB,
		 ":9:20: accounts.support.tls.verify: expected true or false, got the string "
		 "\"true\""},
		{BASE_DB BASE_ACCOUNT "    charset_fallback: klingon\n" BASE_JOB,
		 ":9:23: accounts.support.charset_fallback: unknown charset \"klingon\" (e.g. "
		 "\"windows-1252\", \"koi8-r\", \"shift_jis\")"},
		{BASE_DB BASE_ACCOUNT BASE_JOB "    attach_html: 1\n",
		 ":13:18: jobs.support-inbox.attach_html: expected true or false, got \"1\""},
		{BASE_DB BASE_ACCOUNT BASE_JOB "    keep_raw: 1\n",
		 ":13:15: jobs.support-inbox.keep_raw: expected true or false, got \"1\""},
		{BASE_DB BASE_ACCOUNT "    protocol: smtp\n" BASE_JOB,
		 ":9:5: accounts.support: duplicate key \"protocol\" (first at line 5)"},
		{BASE_DB "accounts:\n  support:\n    protocol: smtp\n    host: h\n    username: u\n"
		 "    password_env: M2T_TEST_PW\n" BASE_JOB,
		 ":5:15: accounts.support.protocol: expected imap, pop3 or maildir, got \"smtp\""},
		{BASE_DB BASE_ACCOUNT "    security: ssl\n" BASE_JOB,
		 ":9:15: accounts.support.security: expected tls, starttls, starttls-optional or "
		 "none, got \"ssl\""},
		{BASE_DB BASE_ACCOUNT "    auth: digest-md5\n" BASE_JOB,
		 ":9:11: accounts.support.auth: expected auto, plain, login, cram-md5, scram-sha-1, "
		 "scram-sha-256, ntlm, xoauth2, oauthbearer, apop or user, got \"digest-md5\""},
		{BASE_DB BASE_ACCOUNT "    timeout: 45\n" BASE_JOB,
		 ":9:14: accounts.support.timeout: must be between 100ms and 1h, got 45 ms"},
		{BASE_DB BASE_ACCOUNT "    io_timeout: 5 days\n" BASE_JOB,
		 ":9:17: accounts.support.io_timeout: expected a duration such as 30s, 500ms, 5m "
		 "or 1h, got \"5 days\""},
		{BASE_DB BASE_ACCOUNT "    session_timeout: 500ms\n" BASE_JOB,
		 ":9:22: accounts.support.session_timeout: must be between 1s and 24h, got "
		 "\"500ms\""},
		{BASE_DB BASE_ACCOUNT "    tls: { pin_sha256: abcd }\n" BASE_JOB,
		 ":9:24: accounts.support.tls.pin_sha256: expected the SHA-256 of the server's "
		 "public key (44 characters of base64, or 64 hex digits), got \"abcd\""},
		{BASE_DB BASE_ACCOUNT "    tls: { pin_sha256: [] }\n" BASE_JOB,
		 ":9:24: accounts.support.tls.pin_sha256: expected at least one pin"},
		/* one bit set past the 32 bytes: not a canonical encoding */
		{BASE_DB BASE_ACCOUNT "    tls: { pin_sha256: "
		 "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\" }\n" BASE_JOB,
		 ":9:24: accounts.support.tls.pin_sha256: expected the SHA-256 of the server's "
		 "public key (44 characters of base64, or 64 hex digits), got the string "
		 "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\""},
		{BASE_DB BASE_ACCOUNT "    tls: { ciphers: \"HIGH !aNULL\" }\n" BASE_JOB,
		 ":9:21: accounts.support.tls.ciphers: expected an OpenSSL cipher list such as "
		 "\"ECDHE+AESGCM:ECDHE+CHACHA20\" (no spaces)"},
		{"log_level: verbose\n" MINIMAL,
		 ":1:12: log_level: expected debug, info, warn or error, got \"verbose\""},
		{MINIMAL "log_format: xml\n", ":13:13: log_format: expected kv or json, got \"xml\""},
		{MINIMAL "workers: 0\n", ":13:10: workers: expected an integer 1-256, got \"0\""},
		{MINIMAL "max_workers: 257\n",
		 ":13:14: max_workers: expected an integer 1-256, got \"257\""},
		{MINIMAL "workers: 8\nmax_workers: 4\n",
		 ":14:14: max_workers: max_workers (4) is below workers (8)"},
		{BASE_DB BASE_ACCOUNT "    max_concurrent_runs: 0\n" BASE_JOB,
		 ":9:26: accounts.support.max_concurrent_runs: expected an integer 1-256, got \"0\""},
		{MINIMAL "metrics_listen: 9464\n",
		 ":13:17: metrics_listen: expected HOST:PORT, e.g. \"127.0.0.1:9464\""},
		{MINIMAL "metrics_listen: \"127.0.0.1:99999\"\n",
		 ":13:17: metrics_listen: expected HOST:PORT, e.g. \"127.0.0.1:9464\""},
		{MINIMAL "metrics_listen: \"::1:9464\"\n",
		 ":13:17: metrics_listen: expected HOST:PORT, e.g. \"127.0.0.1:9464\""},
		{MINIMAL "metrics_listen: \"[::1:9464\"\n",
		 ":13:17: metrics_listen: expected [IPv6]:PORT, e.g. \"[::1]:9464\""},
		{MINIMAL "metrics_listen: \":9464\"\n",
		 ":13:17: metrics_listen: expected HOST:PORT, e.g. \"127.0.0.1:9464\""},
		/* bad values */
		{BASE_DB BASE_ACCOUNT "    port: 99999\n" BASE_JOB,
		 ":9:11: accounts.support.port: expected an integer 1-65535, got \"99999\""},
		{BASE_DB BASE_ACCOUNT "    port: 0\n" BASE_JOB,
		 ":9:11: accounts.support.port: expected an integer 1-65535, got \"0\""},
		{BASE_DB BASE_ACCOUNT BASE_JOB "    batch_size: 1001\n",
		 ":13:17: jobs.support-inbox.batch_size: expected an integer 1-1000, got \"1001\""},
		{BASE_DB BASE_ACCOUNT BASE_JOB "    max_message_size: 25XB\n",
		 ":13:23: jobs.support-inbox.max_message_size: expected a size such as 25MB, "
		 "got \"25XB\""},
		{BASE_DB BASE_ACCOUNT BASE_JOB "    max_message_size: 99999999999999999999MB\n",
		 ":13:23: jobs.support-inbox.max_message_size: expected a size such as 25MB, "
		 "got \"99999999999999999999MB\""},
		{BASE_DB BASE_ACCOUNT BASE_JOB "    max_message_size: 2GB\n",
		 ":13:23: jobs.support-inbox.max_message_size: must be between 1 KB and 1 GB, "
		 "got \"2GB\""},
		{BASE_DB BASE_ACCOUNT BASE_JOB "    limits: { max_parts: -1 }\n",
		 ":13:26: jobs.support-inbox.limits.max_parts: expected an integer 1-100000, "
		 "got \"-1\""},
		{BASE_DB BASE_ACCOUNT BASE_JOB "    limits: { max_part: 5 }\n",
		 ":13:15: jobs.support-inbox.limits: unknown key \"max_part\" (did you mean "
		 "\"max_parts\"?)"},
		{BASE_DB BASE_ACCOUNT "    timeout: 30 seconds\n" BASE_JOB,
		 ":9:14: accounts.support.timeout: expected a duration such as 30s, 500ms, 5m or "
		 "1h, got \"30 seconds\""},
		{BASE_DB BASE_ACCOUNT "    timeout: 2h\n" BASE_JOB,
		 ":9:14: accounts.support.timeout: must be between 100ms and 1h, got \"2h\""},
		{BASE_DB BASE_ACCOUNT "    tls: { min_version: 1.3, max_version: 1.2 }\n" BASE_JOB,
		 ":9:25: accounts.support.tls.min_version: min_version 1.3 is higher than "
		 "max_version 1.2"},
		{BASE_DB BASE_ACCOUNT "    tls: { min_version: 1.4 }\n" BASE_JOB,
		 ":9:25: accounts.support.tls.min_version: expected a TLS version \"1.0\", "
		 "\"1.1\", \"1.2\" or \"1.3\", got \"1.4\""},
		{BASE_DB BASE_ACCOUNT BASE_JOB "    mailbox: \"INBOX\\r\\nA1 LOGOUT\"\n",
		 ":13:14: jobs.support-inbox.mailbox: must not contain control characters"},
		{BASE_DB BASE_ACCOUNT BASE_JOB "    archive_folder: \"\"\n",
		 ":13:21: jobs.support-inbox.archive_folder: must not be empty"},
		{BASE_DB BASE_ACCOUNT BASE_JOB "    badmail_folder:\n",
		 ":13:20: jobs.support-inbox.badmail_folder: expected a string, got nothing"},
		{BASE_DB BASE_ACCOUNT "    host: \"a\\0b\"\n" BASE_JOB,
		 ":9:5: accounts.support: duplicate key \"host\" (first at line 6)"},
		{BASE_DB "accounts:\n  support:\n    protocol: imap\n    host: \"a\\0b\"\n"
		 "    username: u\n    password_env: M2T_TEST_PW\n" BASE_JOB,
		 ":6:11: accounts.support.host: must not contain a NUL byte"},
		/* names */
		{BASE_DB "accounts:\n  \"sup port\":\n    protocol: imap\n" BASE_JOB,
		 ":4:3: accounts.sup port: invalid account name \"sup port\" (use letters, "
		 "digits, '.', '_' and '-')"},
		{BASE_DB BASE_ACCOUNT "jobs:\n  \"in/box\": {}\n",
		 ":10:3: jobs.in/box: invalid job name \"in/box\" (use letters, digits, '.', '_' "
		 "and '-')"},
		/* missing things */
		{BASE_DB "accounts:\n  support:\n    protocol: imap\n    username: u\n"
		 "    password_env: M2T_TEST_PW\n" BASE_JOB,
		 ":5:5: accounts.support: missing required key \"host\""},
		{BASE_DB BASE_ACCOUNT "jobs:\n  support-inbox:\n    account: support\n",
		 ":11:5: jobs.support-inbox: missing required key \"schedule\""},
		{BASE_DB BASE_ACCOUNT,
		 ":1:1: missing required key \"jobs\""},
		{BASE_DB BASE_ACCOUNT "jobs: {}\n",
		 ":9:7: jobs: at least one job is required"},
		{BASE_DB "accounts: {}\n" BASE_JOB,
		 ":3:11: accounts: at least one account is required"},
		{BASE_DB "accounts:\n  support:\n    protocol: imap\n    host: h\n    username: u\n"
		 BASE_JOB,
		 ":5:5: accounts.support: missing required key \"password_file\" (or "
		 "\"password_env\", \"password\")"},
		{BASE_DB BASE_ACCOUNT "    password: x1234\n" BASE_JOB,
		 ":5:5: accounts.support: give only one of password_file, password_env and "
		 "password"},
		{"database: {}\n" BASE_ACCOUNT BASE_JOB,
		 ":1:11: database: missing required key \"url_env\" (or \"url\")"},
		{"database: { url: x, url_env: M2T_TEST_DB }\n" BASE_ACCOUNT BASE_JOB,
		 ":1:11: database: give either url or url_env, not both"},
		/* references */
		{BASE_DB BASE_ACCOUNT "jobs:\n  j:\n    account: suport\n    schedule: x\n",
		 ":11:14: jobs.j.account: no account named \"suport\" (did you mean \"support\"?)"},
		{BASE_DB BASE_ACCOUNT "jobs:\n  j:\n    account: billing\n    schedule: x\n",
		 ":11:14: jobs.j.account: no account named \"billing\""},
		/* schedules: the error points at the character, quoted or not */
		{BASE_DB BASE_ACCOUNT "jobs:\n  j:\n    account: support\n    schedule: 0 0 1 foo *\n",
		 ":12:21: jobs.j.schedule: unknown month name \"foo\" (use jan..dec or numbers) "
		 "at position 7"},
		{BASE_DB BASE_ACCOUNT "jobs:\n  j:\n    account: support\n"
		 "    schedule: \"0 0 1 foo *\"\n",
		 ":12:22: jobs.j.schedule: unknown month name \"foo\" (use jan..dec or numbers) "
		 "at position 7"},
		{BASE_DB BASE_ACCOUNT "jobs:\n  j:\n    account: support\n    schedule: '0 0 L * *'\n",
		 ":12:20: jobs.j.schedule: 'L' is not supported (no L, W, # or ? in cron "
		 "expressions) at position 5"},
		{BASE_DB BASE_ACCOUNT "jobs:\n  j:\n    account: support\n    schedule: \"*/5 * *\"\n",
		 ":12:23: jobs.j.schedule: expected 5 fields (minute hour day-of-month month "
		 "day-of-week), found 3 at position 8"},
		{BASE_DB BASE_ACCOUNT "jobs:\n  j:\n    account: support\n    schedule: x\n",
		 ":12:16: jobs.j.schedule: expected 5 fields (minute hour day-of-month month "
		 "day-of-week), found 1 at position 2"},
		{BASE_DB BASE_ACCOUNT "jobs:\n  j:\n    account: support\n    schedule: \"@every 1ms\"\n",
		 ":12:23: jobs.j.schedule: @every takes whole seconds, not \"1ms\" at position 8"},
		{BASE_DB BASE_ACCOUNT "jobs:\n  j:\n    account: support\n    schedule: 5\n",
		 ":12:16: jobs.j.schedule: expected 5 fields (minute hour day-of-month month "
		 "day-of-week), found 1 at position 2"},
		{BASE_DB BASE_ACCOUNT BASE_JOB "    timezone: Mars/Base\n",
		 ":13:15: jobs.support-inbox.timezone: unknown time zone \"Mars/Base\""},
		{BASE_DB BASE_ACCOUNT BASE_JOB "    timezone: ../../etc/passwd\n",
		 ":13:15: jobs.support-inbox.timezone: invalid time zone name \"../../etc/passwd\" "
		 "(expected an IANA name such as \"Europe/Berlin\")"},
		{BASE_DB BASE_ACCOUNT BASE_JOB "    timezone: \"\"\n",
		 ":13:15: jobs.support-inbox.timezone: must not be empty"},
		/* environment and files */
		{"database:\n  url_env: M2T_TEST_UNSET\n" BASE_ACCOUNT BASE_JOB,
		 ":2:12: database.url_env: environment variable \"M2T_TEST_UNSET\" is not set"},
		{BASE_DB "  job_runs_retention: 12h\n" BASE_ACCOUNT BASE_JOB,
		 ":3:23: database.job_runs_retention: must be at least 1d (or 0 to keep every run)"},
		{BASE_DB "  job_runs_retention: soon\n" BASE_ACCOUNT BASE_JOB,
		 ":3:23: database.job_runs_retention: expected a duration such as 30s, 500ms, 5m or "
		 "1h, got \"soon\""},
		{"database:\n  url_env: M2T_TEST_EMPTY\n" BASE_ACCOUNT BASE_JOB,
		 ":2:12: database.url_env: environment variable \"M2T_TEST_EMPTY\" is empty"},
		{BASE_DB "accounts:\n  support:\n    protocol: imap\n    host: h\n    username: u\n"
		 "    password_env: M2T_TEST_UNSET\n" BASE_JOB,
		 ":8:19: accounts.support.password_env: environment variable \"M2T_TEST_UNSET\" "
		 "is not set"},
		{BASE_DB "accounts:\n  support:\n    protocol: imap\n    host: h\n    username: u\n"
		 "    password_file: @DIR@/missing\n" BASE_JOB,
		 ":8:20: accounts.support.password_file: cannot read \"DIR/missing\": No such "
		 "file or directory"},
		{BASE_DB "accounts:\n  support:\n    protocol: imap\n    host: h\n    username: u\n"
		 "    password_file: @DIR@\n" BASE_JOB,
		 ":8:20: accounts.support.password_file: cannot read \"DIR\": not a regular file"},
		{BASE_DB "accounts:\n  support:\n    protocol: imap\n    host: h\n    username: u\n"
		 "    password_file: @DIR@/empty\n" BASE_JOB,
		 ":8:20: accounts.support.password_file: \"DIR/empty\" is empty"},
		/* YAML the parser refuses */
		{"database:\n  url_env: &db M2T_TEST_DB\n" BASE_ACCOUNT BASE_JOB,
		 ":2:12: anchors (&name) are not supported"},
		{BASE_DB BASE_ACCOUNT "jobs:\n  j:\n    account: support\n    schedule: */5 * * * *\n",
		 ":12:16: did not find expected alphabetic or numeric character (while scanning an "
		 "alias at line 12 column 15; quote a value that starts with *)"},
		{BASE_DB BASE_ACCOUNT "jobs:\n  j:\n    account: support\n    schedule: *cron\n",
		 ":12:15: aliases (*name) are not supported (quote a value that starts with *)"},
		{"database:\n  url_env: \"my secret\"\n" BASE_ACCOUNT BASE_JOB,
		 ":2:12: database.url_env: expected the name of an environment variable (letters, "
		 "digits and '_')"},
		{BASE_DB BASE_ACCOUNT "    port: !!int 993\n" BASE_JOB,
		 ":9:11: tags such as \"tag:yaml.org,2002:int\" are not supported (quote the value "
		 "instead)"},
		{"database:\n\turl_env: M2T_TEST_DB\n" BASE_ACCOUNT BASE_JOB,
		 ":2:1: found character that cannot start any token (while scanning for the "
		 "next token at line 2 column 1)"},
		{"database:\n  url_env: M2T_TEST_DB\n   bad: indent\n" BASE_ACCOUNT BASE_JOB,
		 ":3:7: mapping values are not allowed in this context"},
		{"database:\n  url_env: M2T_TEST_DB\n accounts: {}\n",
		 ":3:2: did not find expected key (while parsing a block mapping at line 1 "
		 "column 1)"},
		{MINIMAL "---\nmore: 1\n", ":13:1: only one document is allowed"},
		{"", ":1:1: the file is empty (expected database, accounts and jobs)"},
		{"# only a comment\n", ":1:1: the file is empty (expected database, accounts and jobs)"},
		{"- a\n- b\n", ":1:1: expected a mapping, got a sequence"},
		{"[database, accounts]: 1\n", ":1:1: a mapping key must be a scalar, not a sequence"},
		{"a: \xff\n", ":1:4: invalid leading UTF-8 octet (byte 0xFF)"},
		{"database:\n  url_env: \"\xc3\x28\"\n",
		 ":2:14: invalid trailing UTF-8 octet (byte 0x28)"},
	};
	char *empty = xasprintf("%s/empty", g_dir);
	file_write(empty, "\n", 1, 0600);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = load_err(cases[i].yaml);
		if (strcmp(got, cases[i].want) != 0) {
			fprintf(stderr, "  case %zu:\n    got  %s\n    want %s\n", i, got,
				cases[i].want);
			test_failed_now = 1;
		}
	}
	unlink(empty);
	free(empty);
}

TEST(nesting_bomb_is_refused)
{
	/* 100,000 levels: libyaml 0.2.5 would follow them all */
	size_t depth = 100000;
	char *text = xmalloc(2 * depth + 64);
	size_t o = (size_t)snprintf(text, 64, "database: ");
	memset(text + o, '[', depth);
	memset(text + o + depth, ']', depth);
	text[o + 2 * depth] = '\0';
	CHECK_STR(load_err(text), ":1:74: nested deeper than 64 levels");
	free(text);
}

TEST(file_too_large_or_missing)
{
	size_t len = 1024 * 1024 + 1;
	char *big = xmalloc(len);
	memset(big, '#', len);
	big[len - 1] = '\n';
	file_write(g_cfg, big, len, 0600);
	free(big);
	struct config *cfg = NULL;
	struct err err;
	CHECK_INT(config_load(g_cfg, &cfg, &err), -1);
	char *want = xasprintf("%s: larger than 1048576 bytes", g_cfg);
	CHECK_STR(err.msg, want);
	free(want);
	want = xasprintf("cannot open \"%s/nope.yaml\": No such file or directory", g_dir);
	char *path = xasprintf("%s/nope.yaml", g_dir);
	CHECK_INT(config_load(path, &cfg, &err), -1);
	CHECK_STR(err.msg, want);
	CHECK_INT(err.cls, ERR_FATAL);
	CHECK(cfg == NULL);
	free(path);
	free(want);
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

/*
 * Every prefix of a valid config (cut at every byte) must load or fail with
 * a positioned fatal error: no crash, no leak (ASan/valgrind), no secret.
 */
TEST(every_prefix_loads_or_fails_cleanly)
{
	char *text = subst(full_config);
	size_t len = strlen(text);
	size_t loaded = 0;
	for (size_t n = 0; n <= len; n++) {
		file_write(g_cfg, text, n, 0600);
		struct config *cfg = NULL;
		struct err err;
		err_clear(&err);
		int rc = config_load(g_cfg, &cfg, &err);
		if (rc == 0) {
			CHECK(cfg != NULL);
			loaded++;
			config_free(&cfg);
			continue;
		}
		CHECK(cfg == NULL);
		CHECK_INT(err.cls, ERR_FATAL);
		CHECK(strncmp(err.msg, g_cfg, strlen(g_cfg)) == 0);
		CHECK(strstr(err.msg, FILE_PW) == NULL && strstr(err.msg, ENV_PW) == NULL);
	}
	/* the last complete line loads; so do a few cuts inside the last value */
	CHECK(loaded >= 1);
	free(text);
}

static void cleanup(void)
{
	char *p;
	static const char *const names[] = {"config.yaml", "pw", "empty", "nul", "pw-open", "log"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		p = xasprintf("%s/%s", g_dir, names[i]);
		unlink(p);
		free(p);
	}
	if (rmdir(g_dir) < 0)
		fprintf(stderr, "cannot remove %s: %s\n", g_dir, strerror(errno));
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(g_dir, sizeof(g_dir), "%s/m2t-config-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (!mkdtemp(g_dir)) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(g_cfg, sizeof(g_cfg), "%s/config.yaml", g_dir);
	snprintf(g_pwfile, sizeof(g_pwfile), "%s/pw", g_dir);
	file_write(g_pwfile, FILE_PW "\n", strlen(FILE_PW) + 1, 0600);
	setenv("M2T_TEST_DB", DB_URL, 1);
	setenv("M2T_TEST_PW", ENV_PW, 1);
	setenv("M2T_TEST_EMPTY", "", 1);
	unsetenv("M2T_TEST_UNSET");
	/* the warnings are expected; keep the test output readable */
	log_set_level(LOG_ERROR);

	RUN(minimal_config_gets_every_default);
	RUN(observability_keys);
	RUN(daemon_pool_keys);
	RUN(full_config_reads_every_key);
	RUN(default_ports_follow_protocol_and_security);
	RUN(unquoted_and_block_tls_settings);
	RUN(security_auth_timeouts_and_pins);
	RUN(bad_configs_name_position_and_key);
	RUN(nesting_bomb_is_refused);
	RUN(file_too_large_or_missing);
	RUN(summary_shows_sources_not_secrets);
	RUN(database_urls_are_masked_in_every_form);
	RUN(password_never_in_error_messages);
	RUN(passwords_are_registered_as_secrets);
	RUN(inline_password_and_open_password_file_warn_but_work);
	RUN(every_prefix_loads_or_fails_cleanly);

	cleanup();
	log_clear_secrets();
	return test_summary();
}
