/*
 * Shared between the config loader's files (config.c, config_account.c,
 * config_job.c, config_summary.c); not for use outside engine/config.
 */
#ifndef M2T_CONFIG_INTERNAL_H
#define M2T_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/config/config.h"
#include "rules/yaml_tree.h"

/* Account and job names: [A-Za-z0-9._-]+, checked at the key. */
int config_check_name(const struct yaml_tree_node *key, const char *what, struct err *err);
/* A non-empty string without control characters (it may end up in a
 * protocol command or a log line); *s_r is a fresh copy. */
int config_read_text(const struct yaml_tree_node *node, char **s_r, struct err *err);
/* A variable name ([A-Za-z_][A-Za-z0-9_]*) for url_env / password_env. */
int config_read_env_name(const struct yaml_tree_node *node, char **s_r, struct err *err);

/* Where a secret may be given: a file key, an environment key, and an
 * inline key (NULL: not allowed). */
struct config_secret_keys {
	const char *file;
	const char *env;
	const char *inline_;
};

struct config_secret {
	char *value;            /* malloc'd; NULL when none was given */
	enum secret_source source;
	char *ref;              /* the path or variable name; NULL when inline */
};

/*
 * Reads the secret given by one of keys in map (exactly one; none is an
 * error when required, else s->source is SECRET_NONE). The value is
 * registered with log_add_secret(). On failure s may hold allocations the
 * caller still frees (value with config_secret_free()).
 */
int config_secret_parse(const struct yaml_tree_node *map, const char *account,
			const struct config_secret_keys *keys, bool required,
			struct config_secret *s, struct err *err);
/* Wipes and frees a secret string (NULL is fine). */
void config_secret_free(char *s);

/* proxy: / proxy_password_file / proxy_password_env of an account map. */
int config_proxy_parse(struct config_account *a, const struct yaml_tree_node *map,
		       struct err *err);
/* Two accounts reaching the same server through different proxies cannot
 * be told apart by engine/net's routes: refused at load. */
void config_proxy_free(struct proxy_settings *p);
/* oauth2: of an account map (the account's auth: already read). */
int config_oauth_parse(struct config_account *a, const struct yaml_tree_node *node,
		       struct err *err);
void config_oauth_free(struct oauth_settings *o);

/* accounts: fills cfg->accounts / naccounts. */
int config_accounts_parse(struct config *cfg, const struct yaml_tree_node *accounts,
			  struct err *err);
/* jobs: fills cfg->jobs / njobs; needs the accounts already parsed. */
int config_jobs_parse(struct config *cfg, const struct yaml_tree_node *jobs,
		      struct err *err);

/* A Maildir++ folder name that stays inside the Maildir: "INBOX", or names
 * separated by '/' or '.', none empty (an empty one would make ".."). */
bool config_maildir_folder_ok(const char *name);

/* A job's `rules`, `own_addresses`, `followup` and `loops` keys (the
 * policy starts from its defaults); the rules are compiled, and their
 * move_to folders checked against the job's account. */
int config_job_rules_parse(const struct config *cfg, struct config_job *j,
			   const struct yaml_tree_node *map, struct err *err);
void config_job_rules_free(struct config_job *j);

/* Copies url into out with every password in it replaced by "***". */
const char *config_mask_url(const char *url, char *out, size_t outlen);
/* Registers each password found inside url with log_add_secret(). */
void config_url_add_secrets(const char *url);

#endif
