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
#include "rules/policy.h"

struct ruleset;

enum protocol {
	PROTO_IMAP,
	PROTO_POP3,
	PROTO_MAILDIR,  /* a local Maildir (path:); no server, no credentials */
};

enum security {
	SEC_TLS,        /* implicit TLS (RFC 8314) */
	SEC_STARTTLS,   /* required STARTTLS */
	SEC_STARTTLS_OPTIONAL,  /* STARTTLS when offered, else plaintext (logged) */
	SEC_NONE,       /* plaintext */
};

/*
 * How to log in. Every value but AUTH_AUTO and AUTH_LOGIN is a SASL
 * mechanism (engine/auth); AUTH_LOGIN is the protocol's own plaintext
 * login (IMAP LOGIN; the SASL mechanism LOGIN is in engine/auth for
 * protocols that need it). XOAUTH2 and OAUTHBEARER take the account's
 * secret as a bearer token.
 */
enum auth_method {
	AUTH_AUTO,      /* the strongest the server offers (engine/auth; POP3: pop3_auth.c) */
	AUTH_PLAIN,
	AUTH_LOGIN,
	AUTH_CRAM_MD5,
	AUTH_SCRAM_SHA_1,
	AUTH_SCRAM_SHA_256,
	AUTH_NTLM,
	AUTH_XOAUTH2,
	AUTH_OAUTHBEARER,
	AUTH_APOP,      /* POP3 only: APOP (RFC 1939), the password never sent */
	AUTH_USER,      /* POP3 only: USER/PASS (RFC 1939) */
};

/* Where a secret came from, for summaries that must not show it. */
enum secret_source {
	SECRET_FILE,    /* password_file: (preferred) */
	SECRET_ENV,     /* password_env: */
	SECRET_INLINE,  /* password: in the config file (works, with a warning) */
};

#define TLS_MAX_PINS 4

/* TLS versions as OpenSSL's numbers would be awkward here: 10, 11, 12, 13. */
struct tls_settings {
	bool verify;            /* default true */
	char *ca_file;          /* NULL: system default paths */
	char *ca_path;
	int min_version;        /* 10..13, 0 = library default (1.2) */
	int max_version;        /* 0 = no maximum */
	char *server_name;      /* SNI and name check; NULL = host */
	char *ciphers;          /* OpenSSL cipher list for TLS <= 1.2; NULL = default */
	char *ciphersuites;     /* TLS 1.3 suites; NULL = default */
	/* SHA-256 of the server's SubjectPublicKeyInfo; any one must match */
	unsigned char pins[TLS_MAX_PINS][32];
	size_t npins;
};

struct config_account {
	char *name;
	enum protocol protocol;
	char *path;             /* maildir: absolute path of the Maildir; NULL otherwise */
	char *host;             /* imap, pop3; NULL for maildir (as username, password) */
	unsigned port;          /* resolved default when not given */
	enum security security;
	struct tls_settings tls;
	char *username;
	char *password;         /* resolved secret; never log it */
	enum secret_source password_source;
	char *password_ref;     /* the file path or variable name; NULL when inline */
	enum auth_method auth;
	uint64_t timeout_ms;    /* `timeout:`, the default of the next two; 30 s */
	uint64_t connect_timeout_ms;  /* each connect attempt (and the TLS handshake) */
	uint64_t io_timeout_ms; /* each read or write */
	uint64_t session_timeout_ms;  /* the whole session; 0 = unbounded */
	char *charset_fallback; /* the "code page" for undeclared 8-bit text and raw 8-bit
				   headers; NULL = windows-1252 */
	unsigned line;          /* where the account starts in the file (1-based) */
};

struct config_job {
	char *name;
	struct config_account *account;  /* borrowed from config.accounts */
	char *mailbox;          /* as written: "INBOX/Support" or "INBOX.Support";
				   pop3: always "INBOX" (the key is refused) */
	char *archive_folder;   /* default "Processed"; NULL for pop3 (no folders) */
	char *badmail_folder;   /* default "Badmail"; NULL for pop3 */
	bool keep_on_server;    /* leave done mail where it is, remembered; default false */
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
	struct tz **zones;      /* one per distinct timezone: jobs share them */
	size_t nzones;
	char *log_level;        /* NULL = info */
};

/*
 * 0 ok; -1 with ERR_FATAL and "file:line:column: key: what is wrong".
 * Each job's schedule is parsed and its timezone loaded (a bad expression
 * or an unknown zone is an error at the character or the value), so a
 * loaded config's jobs are ready for cron_next(job->cron, job->tz, ...).
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
/* The config's words for the enums ("starttls-optional", "scram-sha-256"). */
const char *config_security_name(enum security sec);
const char *config_auth_name(enum auth_method m);
/* Readable summary for `check-config` (no secrets). */
void config_print_summary(const struct config *cfg, FILE *out);

#endif
