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
#include "engine/util/err.h"
#include "rules/policy.h"

struct ruleset;

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
	unsigned line;          /* where the account starts in the file (1-based) */
};

struct config_job {
	char *name;
	struct config_account *account;  /* borrowed from config.accounts */
	char *mailbox;          /* as written: "INBOX/Support" or "INBOX.Support" */
	char *archive_folder;   /* default "Processed" */
	char *badmail_folder;   /* default "Badmail" */
	char *schedule;         /* kept as text until the scheduler exists */
	struct mime_limits limits;  /* max_message_size and the `limits:` map */
	uint32_t batch_size;    /* messages per transaction; default 500 */
	bool keep_raw;          /* store raw mail in raw_messages; default true */
	char **rule_files;      /* `rules:` resolved against the config's directory */
	size_t nrule_files;
	struct ruleset *rules;  /* compiled at load; NULL: the built-in default */
	struct policy policy;   /* `followup:`, `loops:`, `own_addresses:` */
	uint64_t rules_budget_ms;  /* limits.rules_time: per message; default 2 s */
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
	char *log_level;        /* NULL = info */
};

/*
 * 0 ok; -1 with ERR_FATAL and "file:line:column: key: what is wrong".
 * Every resolved password (and a password inside the database URL) is
 * registered with log_add_secret(). The file is at most 1 MB; relative
 * password_file paths are taken as written (relative to the working
 * directory). Each job's rule files (`rules:`, relative to the config
 * file's directory) are loaded and compiled here: a broken rule file fails
 * the load like any other error, naming its own file:line:column. A
 * reload that fails leaves the caller's previous config (and rules) as
 * they were. *cfg_r is owned by the caller: config_free().
 */
int config_load(const char *path, struct config **cfg_r, struct err *err);
void config_free(struct config **cfg);
struct config_job *config_find_job(const struct config *cfg, const char *name);
/* Readable summary for `check-config` (no secrets). */
void config_print_summary(const struct config *cfg, FILE *out);

#endif
