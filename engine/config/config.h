/*
 * The configuration file (YAML) as typed data. The file's shape is a
 * contract with admins (README "Configuration"). Loading validates all of
 * it: unknown keys, wrong types and bad values are errors that name
 * file:line:column and the key. Secrets (password_file / password_env) are
 * resolved at load; a plain `password:` works with a warning.
 */
#ifndef M2T_CONFIG_H
#define M2T_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/mime/message.h"
#include "engine/sched/cron.h"
#include "engine/sched/tz.h"
#include "engine/util/err.h"

enum protocol {
	PROTO_IMAP,
	PROTO_POP3,
};

enum security {
	SEC_TLS,        /* implicit TLS (RFC 8314) */
	SEC_STARTTLS,   /* required STARTTLS */
	SEC_NONE,       /* plaintext */
};

enum auth_method {
	AUTH_AUTO,      /* PLAIN when offered, else LOGIN */
	AUTH_PLAIN,
	AUTH_LOGIN,
};

/* Where a secret came from, for summaries that must not show it. */
enum secret_source {
	SECRET_FILE,    /* password_file: (preferred) */
	SECRET_ENV,     /* password_env: */
	SECRET_INLINE,  /* password: in the config file (works, with a warning) */
};

/* TLS versions as OpenSSL's numbers would be awkward here: 10, 11, 12, 13. */
struct tls_settings {
	bool verify;            /* default true */
	char *ca_file;          /* NULL: system default paths */
	char *ca_path;
	int min_version;        /* 10..13, 0 = library default (1.2) */
	int max_version;        /* 0 = no maximum */
	char *server_name;      /* SNI and name check; NULL = host */
};

struct config_account {
	char *name;
	enum protocol protocol;
	char *host;
	unsigned port;          /* resolved default when not given */
	enum security security;
	struct tls_settings tls;
	char *username;
	char *password;         /* resolved secret; never log it */
	enum secret_source password_source;
	char *password_ref;     /* the file path or variable name; NULL when inline */
	enum auth_method auth;
	uint64_t timeout_ms;    /* connect and each read/write; default 30 s */
	char *charset_fallback; /* the "code page" for undeclared 8-bit text and raw 8-bit
				   headers; NULL = windows-1252 */
	unsigned line;          /* where the account starts in the file (1-based) */
};

struct config_job {
	char *name;
	struct config_account *account;  /* borrowed from config.accounts */
	char *mailbox;          /* as written: "INBOX/Support" or "INBOX.Support" */
	char *archive_folder;   /* default "Processed" */
	char *badmail_folder;   /* default "Badmail" */
	char *schedule;         /* as written, for messages and summaries */
	struct cron *cron;      /* the parsed schedule; owned */
	char *timezone;         /* as written; NULL when not given (UTC) */
	const struct tz *tz;    /* the job's zone, never NULL (UTC by default);
				 * borrowed from config.zones */
	struct mime_limits limits;  /* max_message_size and the `limits:` map */
	uint32_t batch_size;    /* messages per transaction; default 500 */
	bool keep_raw;          /* store raw mail in raw_messages; default true */
	bool attach_html;       /* keep the HTML body as attachment "message.html" too;
				   default false */
	unsigned line;
};

struct config {
	char *path;
	char *database_url;     /* resolved from url or url_env */
	char *database_url_env; /* the variable's name; NULL when url: was given */
	struct config_account *accounts;
	size_t naccounts;
	struct config_job *jobs;
	size_t njobs;
	struct tz **zones;      /* one per distinct timezone: jobs share them */
	size_t nzones;
	char *log_level;        /* NULL = info */
	char *log_format;       /* "kv" or "json"; NULL = kv */
	char *metrics_listen;   /* "127.0.0.1:9464", "[::1]:9464", "localhost:9464";
				 * NULL = no metrics endpoint */
	char *metrics_host;     /* metrics_listen split: host (brackets removed) */
	unsigned metrics_port;  /*                       and port */
};

/*
 * 0 ok; -1 with ERR_FATAL and "file:line:column: key: what is wrong".
 * Each job's schedule is parsed and its timezone loaded (a bad expression
 * or an unknown zone is an error at the character or the value), so a
 * loaded config's jobs are ready for cron_next(job->cron, job->tz, ...).
 * Every resolved password (and a password inside the database URL) is
 * registered with log_add_secret(). The file is at most 1 MB; relative
 * password_file paths are taken as written (relative to the working
 * directory). *cfg_r is owned by the caller: config_free().
 */
int config_load(const char *path, struct config **cfg_r, struct err *err);
void config_free(struct config **cfg);
struct config_job *config_find_job(const struct config *cfg, const char *name);
/* Readable summary for `check-config` (no secrets). */
void config_print_summary(const struct config *cfg, FILE *out);

#endif
