/*
 * The configuration file, bad: the exact message an admin would see
 * (file:line:column and the key path), a nesting bomb, files too large or
 * missing, and every prefix of a valid file loading or failing cleanly
 * (cut at every byte).
 */
#include "tests/unit/config_text.h"

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

int main(void)
{
	if (config_text_setup() < 0)
		return 2;

	RUN(bad_configs_name_position_and_key);
	RUN(nesting_bomb_is_refused);
	RUN(file_too_large_or_missing);
	RUN(every_prefix_loads_or_fails_cleanly);

	config_text_cleanup();
	log_clear_secrets();
	return test_summary();
}
