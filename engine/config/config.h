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
 * How to log in. Every value but AUTH_AUTO, AUTH_APOP and AUTH_USER is a
 * SASL mechanism (engine/auth); for IMAP, AUTH_LOGIN is its own LOGIN
 * command, for POP3 the SASL mechanism LOGIN. XOAUTH2 and OAUTHBEARER
 * take the account's secret as a bearer token.
 */
enum auth_method {
	AUTH_AUTO,      /* the strongest the server offers (imap_auth.c, pop3_auth.c) */
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
	SECRET_NONE,    /* not given (an oauth2 account has no password) */
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

/*
 * proxy: the account's connections (mail and OAuth2 token requests) go
 * through a SOCKS5 proxy (RFC 1928, user/password RFC 1929; the mail
 * server's name is resolved by the proxy) or an HTTP proxy (CONNECT, with
 * Basic credentials).
 */
enum proxy_kind {
	PROXY_NONE,
	PROXY_SOCKS5,
	PROXY_HTTP,
};

struct proxy_settings {
	enum proxy_kind kind;
	char *host;             /* the proxy's name or address */
	unsigned port;
	char *username;         /* NULL: no authentication */
	char *password;         /* resolved secret, set exactly when username is */
	enum secret_source password_source;
	char *password_ref;     /* the file path or variable name */
};

enum oauth_provider {
	OAUTH_MICROSOFT,
	OAUTH_GOOGLE,
	OAUTH_GENERIC,
};

enum oauth_flow {
	OAUTH_FLOW_REFRESH_TOKEN,       /* delegated: a refresh token from `oauth login` */
	OAUTH_FLOW_CLIENT_CREDENTIALS,  /* app-only (Microsoft): client id + secret */
};

/*
 * oauth2: the account logs in with an OAuth2 access token (XOAUTH2 or
 * OAUTHBEARER) that engine/auth gets from the token endpoint and keeps in
 * the database (oauth_tokens). URLs and scope are resolved from the
 * provider's defaults at load.
 */
struct oauth_settings {
	bool enabled;
	enum oauth_provider provider;
	enum oauth_flow flow;
	char *tenant;           /* microsoft: directory (tenant) id or domain */
	char *client_id;
	char *client_secret;    /* resolved secret; NULL for a public client */
	enum secret_source client_secret_source;
	char *client_secret_ref;
	char *token_url;
	char *device_code_url;  /* NULL when the provider has none configured */
	char *scope;
	const char *database_url;  /* borrowed from struct config: where tokens live */
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
	char *password;         /* resolved secret; never log it; NULL with oauth2 */
	enum secret_source password_source;
	char *password_ref;     /* the file path or variable name; NULL when inline */
	enum auth_method auth;
	struct proxy_settings proxy;
	struct oauth_settings oauth2;
	uint64_t timeout_ms;    /* `timeout:`, the default of the next two; 30 s */
	uint64_t connect_timeout_ms;  /* each connect attempt (and the TLS handshake) */
	uint64_t io_timeout_ms; /* each read or write */
	uint64_t session_timeout_ms;  /* the whole session; 0 = unbounded */
	unsigned max_concurrent_runs; /* the daemon's runs and IDLE connects of this
				       * account's jobs at once; 0 = no limit (maildir) */
	char *charset_fallback; /* the "code page" for undeclared 8-bit text and raw 8-bit
				   headers; NULL = windows-1252 */
	unsigned line;          /* where the account starts in the file (1-based) */
	unsigned column;
};

enum job_fetch {
	JOB_FETCH_ALL,
	JOB_FETCH_UNSEEN,       /* IMAP: not \Seen; Maildir: in new/, or cur/ without S */
};

/*
 * Checks an IMAP SEARCH query from the config: atoms (letters, digits and
 * "-.:,*<>_/@+="), quoted strings (UTF-8, with \" and \\), parentheses
 * nested at most 16 deep; no literals, no CR/LF/NUL, no CHARSET (added when
 * needed), at most 1024 bytes. 0 ok; -1 with *why_r and *pos_r (0-based
 * byte offset) set. *utf8_r: a quoted string holds non-ASCII text.
 */
int config_search_check(const char *q, bool *utf8_r, size_t *pos_r, const char **why_r);

struct config_job {
	char *name;
	struct config_account *account;  /* borrowed from config.accounts */
	char *mailbox;          /* as written: "INBOX/Support" or "INBOX.Support";
				   pop3: always "INBOX" (the key is refused) */
	char *archive_folder;   /* default "Processed"; NULL for pop3 (no folders) */
	char *badmail_folder;   /* default "Badmail"; NULL for pop3 */
	bool keep_on_server;    /* leave done mail where it is, remembered; default false */
	bool mark_seen;         /* keep_on_server on IMAP: flag done mail \Seen after COMMIT
				   (badmail stays unread); default true, false: EXAMINE
				   and change nothing; always false elsewhere */
	enum job_fetch fetch;   /* which messages: all (default) or unseen (IMAP, Maildir) */
	char *search;           /* IMAP only: a SEARCH query (config_search_check), or NULL */
	bool search_utf8;       /* the query has non-ASCII text: sent with CHARSET UTF-8 */
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

/* database.job_runs_retention by default: 30 days */
#define CONFIG_JOB_RUNS_RETENTION_S (30ULL * 86400)
/* workers:, max_workers: and an account's max_concurrent_runs: at most this */
#define CONFIG_WORKERS_MAX 256
/* an account's max_concurrent_runs when not given */
#define CONFIG_ACCOUNT_RUNS_DEFAULT 4

struct config {
	char *path;
	char *database_url;     /* resolved from url or url_env */
	char *database_url_env; /* the variable's name; NULL when url: was given */
	uint64_t job_runs_retention_s; /* database.job_runs_retention: the daemon deletes
				 * older runs that fetched nothing; 0 = never */
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
	unsigned workers;       /* the daemon's workers doing work at once; 0 = not given */
	unsigned max_workers;   /* its worker threads at most; 0 = not given */
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
const char *config_proxy_kind_name(enum proxy_kind k);      /* "socks5", "http" */
const char *config_oauth_provider_name(enum oauth_provider p);
const char *config_oauth_flow_name(enum oauth_flow f);
/* The account by name; NULL when there is none. */
const struct config_account *config_find_account(const struct config *cfg, const char *name);
/* Readable summary for `check-config` (no secrets). */
void config_print_summary(const struct config *cfg, FILE *out);

#endif
