/*
 * Shared by the configuration tests that load whole files (test_config.c,
 * test_config_errors.c): texts with @DIR@ for the test directory, loading
 * them, the error an admin would see with the path cut to "DIR", the base
 * pieces of a valid file and a full one using every key. Header-only.
 */
#ifndef M2T_TEST_CONFIG_TEXT_H
#define M2T_TEST_CONFIG_TEXT_H

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

static inline void file_write(const char *path, const char *data, size_t len, mode_t mode)
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
static inline char *subst(const char *tmpl)
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

static inline int load_text(const char *tmpl, struct config **cfg, struct err *err)
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
static inline const char *load_err(const char *tmpl)
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

static inline void config_text_cleanup(void)
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

/* The test directory, its password file and the variables the texts use. */
static inline int config_text_setup(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(g_dir, sizeof(g_dir), "%s/m2t-config-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (!mkdtemp(g_dir)) {
		perror("mkdtemp");
		return -1;
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
	return 0;
}

#endif
