/*
 * config_load(): the file's top level (database, log_level, accounts, jobs)
 * and the shared checks. Accounts and jobs are in their own files.
 *
 * SECURITY: secrets are resolved here (database url_env) and in
 * config_account.c; error messages name keys, positions, files and
 * variables, never a secret's value.
 */
#include "engine/config/config_internal.h"

#include <stdlib.h>
#include <string.h>

#include "engine/util/log.h"
#include "engine/util/str.h"
#include "engine/util/xalloc.h"

static const char *const top_keys[] = {"database", "log_level", "log_format", "metrics_listen",
				       "workers", "max_workers", "accounts", "jobs", NULL};
static const char *const database_keys[] = {"url", "url_env", "job_runs_retention", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"kv", "json", NULL};

int config_check_name(const struct yaml_tree_node *key, const char *what, struct err *err)
{
	bool ok = key->len > 0 && strlen(key->value) == key->len;
	for (size_t i = 0; ok && i < key->len; i++) {
		char c = key->value[i];
		ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		     c == '.' || c == '_' || c == '-';
	}
	if (ok)
		return 0;
	char q[64];
	return yaml_tree_error(err, key,
			       "invalid %s name %s (use letters, digits, '.', '_' and '-')", what,
			       yaml_tree_quote(key, q, sizeof(q)));
}

int config_read_text(const struct yaml_tree_node *node, char **s_r, struct err *err)
{
	const char *s;
	if (yaml_tree_read_string(node, &s, err) < 0)
		return -1;
	if (!s[0])
		return yaml_tree_error(err, node, "must not be empty");
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return yaml_tree_error(err, node, "must not contain control characters");
	*s_r = xstrdup(s);
	return 0;
}

int config_read_env_name(const struct yaml_tree_node *node, char **s_r, struct err *err)
{
	if (config_read_text(node, s_r, err) < 0)
		return -1;
	const char *s = *s_r;
	bool ok = !(s[0] >= '0' && s[0] <= '9');
	for (; ok && *s; s++)
		ok = (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		     (*s >= '0' && *s <= '9') || *s == '_';
	if (ok)
		return 0;
	free(*s_r);
	*s_r = NULL;
	/* not quoted: a password pasted here by mistake must not be shown */
	return yaml_tree_error(err, node, "expected the name of an environment variable "
			       "(letters, digits and '_')");
}

static int database_parse(struct config *cfg, const struct yaml_tree_node *db, struct err *err)
{
	if (yaml_tree_expect_mapping(db, err) < 0 || yaml_tree_check_keys(db, database_keys, err) < 0)
		return -1;
	const struct yaml_tree_node *url = yaml_tree_get(db, "url");
	const struct yaml_tree_node *env = yaml_tree_get(db, "url_env");
	if (url && env)
		return yaml_tree_error(err, db, "give either url or url_env, not both");
	if (!url && !env)
		return yaml_tree_error(err, db, "missing required key \"url_env\" (or \"url\")");
	if (url) {
		/* no control-character check: a conninfo string may span lines */
		const char *s;
		if (yaml_tree_read_string(url, &s, err) < 0)
			return -1;
		if (!s[0])
			return yaml_tree_error(err, url, "must not be empty");
		cfg->database_url = xstrdup(s);
	} else {
		if (config_read_env_name(env, &cfg->database_url_env, err) < 0)
			return -1;
		const char *v = getenv(cfg->database_url_env);
		if (!v)
			return yaml_tree_error(err, env, "environment variable \"%s\" is not set",
					       cfg->database_url_env);
		if (!v[0])
			return yaml_tree_error(err, env, "environment variable \"%s\" is empty",
					       cfg->database_url_env);
		cfg->database_url = xstrdup(v);
	}
	config_url_add_secrets(cfg->database_url);
	cfg->job_runs_retention_s = CONFIG_JOB_RUNS_RETENTION_S;
	const struct yaml_tree_node *keep = yaml_tree_get(db, "job_runs_retention");
	uint64_t ms;
	if (keep) {
		/* "0" keeps every run; else at least a day, so `status` and --once
		 * never lose the runs they reason about */
		if (yaml_tree_read_duration_ms(keep, 0, 3650ULL * 86400000, &ms, err) < 0)
			return -1;
		if (ms != 0 && ms < 86400000)
			return yaml_tree_error(err, keep, "must be at least 1d (or 0 to keep every run)");
		cfg->job_runs_retention_s = ms / 1000;
	}
	return 0;
}

/*
 * metrics_listen: "HOST:PORT" with HOST an IPv4 address, a bracketed IPv6
 * address or a name (resolved when the daemon starts). The endpoint has no
 * authentication: the README says to keep it on loopback or behind a proxy.
 */
static int metrics_listen_parse(struct config *cfg, const struct yaml_tree_node *n,
				struct err *err)
{
	char *s;
	if (config_read_text(n, &s, err) < 0)
		return -1;
	cfg->metrics_listen = s;
	const char *colon = strrchr(s, ':');
	const char *host = s, *host_end = colon;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return yaml_tree_error(err, n, "expected [IPv6]:PORT, e.g. \"[::1]:9464\"");
		host = s + 1;
		host_end = close;
		colon = close + 1;
	}
	uint64_t port;
	if (!colon || host_end == host || str_parse_u64(colon + 1, strlen(colon + 1), 65535, &port) < 0 ||
	    port == 0)
		return yaml_tree_error(err, n, "expected HOST:PORT, e.g. \"127.0.0.1:9464\"");
	for (const char *p = host; p < host_end; p++)
		if (*p == ' ' || *p == '/' || (s[0] != '[' && *p == ':'))
			return yaml_tree_error(err, n, "expected HOST:PORT, e.g. \"127.0.0.1:9464\"");
	cfg->metrics_host = xstrndup(host, (size_t)(host_end - host));
	cfg->metrics_port = (unsigned)port;
	return 0;
}

/*
 * workers: and max_workers: (the daemon's --workers and --max-workers,
 * which override them). Both given: max_workers may not be below workers.
 */
static int workers_parse(struct config *cfg, const struct yaml_tree_node *root, struct err *err)
{
	const struct yaml_tree_node *w = yaml_tree_get(root, "workers");
	const struct yaml_tree_node *m = yaml_tree_get(root, "max_workers");
	uint64_t v;
	if (w) {
		if (yaml_tree_read_uint(w, 1, CONFIG_WORKERS_MAX, &v, err) < 0)
			return -1;
		cfg->workers = (unsigned)v;
	}
	if (m) {
		if (yaml_tree_read_uint(m, 1, CONFIG_WORKERS_MAX, &v, err) < 0)
			return -1;
		cfg->max_workers = (unsigned)v;
		if (w && cfg->max_workers < cfg->workers)
			return yaml_tree_error(err, m, "max_workers (%u) is below workers (%u)",
					       cfg->max_workers, cfg->workers);
	}
	return 0;
}

static int config_parse(struct config *cfg, const struct yaml_tree_node *root, struct err *err)
{
	if (!root || yaml_tree_is_null(root))
		return err_set(err, ERR_FATAL,
			       "%s:1:1: the file is empty (expected database, accounts and jobs)",
			       cfg->path);
	if (yaml_tree_expect_mapping(root, err) < 0 || yaml_tree_check_keys(root, top_keys, err) < 0)
		return -1;
	const struct yaml_tree_node *db, *accounts, *jobs, *level;
	if (yaml_tree_require(root, "database", &db, err) < 0 ||
	    yaml_tree_require(root, "accounts", &accounts, err) < 0 ||
	    yaml_tree_require(root, "jobs", &jobs, err) < 0)
		return -1;
	if (database_parse(cfg, db, err) < 0)
		return -1;
	if ((level = yaml_tree_get(root, "log_level")) != NULL) {
		int idx;
		if (yaml_tree_read_enum(level, log_levels, &idx, err) < 0)
			return -1;
		cfg->log_level = xstrdup(log_levels[idx]);
	}
	if ((level = yaml_tree_get(root, "log_format")) != NULL) {
		int idx;
		if (yaml_tree_read_enum(level, log_formats, &idx, err) < 0)
			return -1;
		cfg->log_format = xstrdup(log_formats[idx]);
	}
	if ((level = yaml_tree_get(root, "metrics_listen")) != NULL &&
	    metrics_listen_parse(cfg, level, err) < 0)
		return -1;
	if (workers_parse(cfg, root, err) < 0)
		return -1;
	if (config_accounts_parse(cfg, accounts, err) < 0)
		return -1;
	return config_jobs_parse(cfg, jobs, err);
}

/* Replaces every copy of secret in the message with "***". */
static void err_redact(struct err *err, const char *secret, size_t len)
{
	/* as in log.c: very short values would blank out ordinary words */
	if (len < 3 || memchr(secret, '\0', len))
		return;
	char *hit;
	while ((hit = memmem(err->msg, strlen(err->msg), secret, len)) != NULL) {
		memcpy(hit, "***", 3);
		memmove(hit + 3, hit + len, strlen(hit + len) + 1);
	}
}

/* Inline `password:` values anywhere in the file. */
static void err_redact_tree(struct err *err, const struct yaml_tree_node *n)
{
	if (!n || n->kind == YAML_TREE_SCALAR)
		return;
	if (n->kind == YAML_TREE_SEQUENCE) {
		for (size_t i = 0; i < n->nitems; i++)
			err_redact_tree(err, n->items[i]);
		return;
	}
	for (size_t i = 0; i < n->npairs; i++) {
		const struct yaml_tree_node *v = n->pairs[i].value;
		if (strcmp(n->pairs[i].key->value, "password") == 0 && v->kind == YAML_TREE_SCALAR)
			err_redact(err, v->value, v->len);
		err_redact_tree(err, v);
	}
}

/*
 * A second guard behind "messages never quote a password": an admin may
 * paste a password under the wrong key (`port: hunter2...`), and the
 * message quoting that value must not show it.
 */
static void err_redact_secrets(struct err *err, const struct config *cfg,
			       const struct yaml_tree *tree)
{
	err_redact_tree(err, yaml_tree_root(tree));
	for (size_t i = 0; i < cfg->naccounts; i++) {
		const struct config_account *a = &cfg->accounts[i];
		const char *secrets[] = {a->password, a->proxy.password, a->oauth2.client_secret};
		for (size_t k = 0; k < sizeof(secrets) / sizeof(secrets[0]); k++)
			if (secrets[k])
				err_redact(err, secrets[k], strlen(secrets[k]));
	}
}

int config_load(const char *path, struct config **cfg_r, struct err *err)
{
	struct yaml_tree *tree = NULL;
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	int rc = -1;
	*cfg_r = NULL;
	cfg->path = xstrdup(path);
	if (yaml_tree_load_file(path, NULL, &tree, err) < 0)
		goto out;
	if (config_parse(cfg, yaml_tree_root(tree), err) < 0) {
		err_redact_secrets(err, cfg, tree);
		goto out;
	}
	*cfg_r = cfg;
	cfg = NULL;
	rc = 0;
out:
	yaml_tree_free(&tree);
	config_free(&cfg);
	return rc;
}

/* Wipes a secret before its memory goes back to the allocator. */
static void secret_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void config_free(struct config **cfgp)
{
	if (!cfgp || !*cfgp)
		return;
	struct config *cfg = *cfgp;
	for (size_t i = 0; i < cfg->naccounts; i++) {
		struct config_account *a = &cfg->accounts[i];
		free(a->name);
		free(a->path);
		free(a->host);
		free(a->tls.ca_file);
		free(a->tls.ca_path);
		free(a->tls.server_name);
		free(a->tls.ciphers);
		free(a->tls.ciphersuites);
		free(a->username);
		secret_free(a->password);
		free(a->password_ref);
		free(a->charset_fallback);
		config_proxy_free(&a->proxy);
		config_oauth_free(&a->oauth2);
	}
	free(cfg->accounts);
	for (size_t i = 0; i < cfg->njobs; i++) {
		struct config_job *j = &cfg->jobs[i];
		free(j->name);
		free(j->mailbox);
		free(j->archive_folder);
		free(j->search);
		free(j->badmail_folder);
		free(j->schedule);
		cron_free(&j->cron);
		free(j->timezone);
		config_job_rules_free(j);
	}
	free(cfg->jobs);
	for (size_t i = 0; i < cfg->nzones; i++)
		tz_free(&cfg->zones[i]);
	free(cfg->zones);
	free(cfg->path);
	secret_free(cfg->database_url);
	free(cfg->database_url_env);
	free(cfg->log_level);
	free(cfg->log_format);
	free(cfg->metrics_listen);
	free(cfg->metrics_host);
	free(cfg);
	*cfgp = NULL;
}

struct config_job *config_find_job(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->njobs; i++)
		if (strcmp(cfg->jobs[i].name, name) == 0)
			return &cfg->jobs[i];
	return NULL;
}
