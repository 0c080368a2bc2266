/*
 * A job's rules and built-in mail handling: `rules:` (one file or a list,
 * relative to the configuration file's directory, compiled now),
 * `own_addresses:`, `followup:` and `loops:` (README "Follow-ups and
 * loops"). The settings live in the job, not in the rule files, because
 * they apply to a job without rules too.
 */
#include "engine/config/config_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/util/str.h"
#include "engine/util/xalloc.h"
#include "rules/ruleset.h"

static const char *const followup_keys[] = {
	"subject_tag", "body_marker", "references", "subject_match_days", "reply_prefixes",
	"foreign_tags", "non_participant", "trusted_domains", "closed", "closed_statuses",
	"reopen_status", NULL,
};
static const char *const loops_keys[] = {
	"auto_replies", "bulk", "bounces", "max_tickets_per_sender", NULL,
};
static const char *const foreign_keys[] = {"name", "pattern", "in_body", NULL};
static const char *const stranger_names[] = {"note", "new_ticket", "reject", "append", NULL};
static const char *const closed_names[] = {"reopen", "new_ticket", "reject", NULL};
static const char *const loop_names[] = {"note", "ignore", "ticket", NULL};
static const char *const bounce_names[] = {"attach", "ignore", "ticket", NULL};

#define MAX_RULE_FILES 32

/* A scalar or a list of scalars, as a list of nodes. */
static int node_list(const struct yaml_tree_node *n, const struct yaml_tree_node *const **v_r,
		     size_t *n_r, struct err *err)
{
	if (n->kind == YAML_TREE_SEQUENCE) {
		*v_r = (const struct yaml_tree_node *const *)n->items;
		*n_r = n->nitems;
		return 0;
	}
	if (n->kind == YAML_TREE_SCALAR && !yaml_tree_is_null(n)) {
		*v_r = NULL;
		*n_r = 1;
		return 0;
	}
	return yaml_tree_error(err, n, "expected a value or a list of values");
}

#define LIST_ITEM(n, v, i) ((v) ? (v)[i] : (n))

/*
 * move_to needs somewhere to move to: POP3 has one mailbox, and a job that
 * keeps its mail on the server moves nothing. Either would drop the
 * admin's intent without a word, so both are errors at the rule that asks
 * (file:line:column of its move_to). Maildir folder names are checked as
 * the job's own folders are.
 */
static int rules_folders_check(const struct config_job *j, struct err *err)
{
	size_t n = ruleset_folder_count(j->rules);
	for (size_t i = 0; i < n; i++) {
		const char *at = ruleset_folder_at(j->rules, i);
		const char *name = ruleset_folder(j->rules, i);
		if (j->account->protocol == PROTO_POP3)
			return err_set(err, ERR_FATAL, "%s: job \"%s\" reads account \"%s\", which is "
				       "pop3: it has no folders to move mail to", at, j->name,
				       j->account->name);
		if (j->keep_on_server)
			return err_set(err, ERR_FATAL, "%s: job \"%s\" keeps its mail on the server "
				       "(keep_on_server: true): nothing is moved", at, j->name);
		if (j->account->protocol == PROTO_MAILDIR && !config_maildir_folder_ok(name))
			return err_set(err, ERR_FATAL, "%s: a Maildir folder is INBOX or names "
				       "separated by '/' or '.', none empty", at);
	}
	return 0;
}

static int rules_files(const struct config *cfg, struct config_job *j,
		       const struct yaml_tree_node *n, struct err *err)
{
	const struct yaml_tree_node *const *v = NULL;
	size_t cnt = 0;
	if (node_list(n, &v, &cnt, err) < 0)
		return -1;
	if (cnt == 0)
		return 0;
	if (cnt > MAX_RULE_FILES)
		return yaml_tree_error(err, n, "at most %d rule files", MAX_RULE_FILES);
	char *dir = str_dirname(cfg->path);
	j->rule_files = xcalloc(cnt, sizeof(char *));
	int rc = 0;
	for (size_t i = 0; i < cnt && rc == 0; i++) {
		const struct yaml_tree_node *item = LIST_ITEM(n, v, i);
		char *s = NULL;
		if (config_read_text(item, &s, err) < 0) {
			rc = -1;
			break;
		}
		j->rule_files[i] = s[0] == '/' ? xstrdup(s) : xasprintf("%s/%s", dir, s);
		j->nrule_files = i + 1;
		free(s);
		/* a missing file is the config's error, at the line naming it */
		if (access(j->rule_files[i], R_OK) != 0)
			rc = yaml_tree_error(err, item, "cannot read rule file \"%s\"", j->rule_files[i]);
	}
	free(dir);
	if (rc < 0)
		return -1;
	if (ruleset_load((const char *const *)j->rule_files, j->nrule_files, &j->rules, err) < 0)
		return -1;
	return rules_folders_check(j, err);
}

static int own_addresses(struct config_job *j, const struct yaml_tree_node *n, struct err *err)
{
	const struct yaml_tree_node *const *v = NULL;
	size_t cnt = 0;
	if (node_list(n, &v, &cnt, err) < 0)
		return -1;
	for (size_t i = 0; i < cnt; i++) {
		const struct yaml_tree_node *item = LIST_ITEM(n, v, i);
		char *s;
		if (config_read_text(item, &s, err) < 0)
			return -1;
		if (!strchr(s, '@') || strchr(s, ' ')) {
			free(s);
			return yaml_tree_error(err, item, "expected an email address");
		}
		policy_add_own_address(&j->policy, s);
		free(s);
	}
	return 0;
}

/* A tag format, or false / "" to switch the method off. */
static int tag_format(struct policy *p, const struct yaml_tree_node *n, bool marker,
		      struct err *err)
{
	bool on;
	const char *s = NULL;
	struct err perr = {0};
	if (n->kind == YAML_TREE_SCALAR && !n->quoted && yaml_tree_read_bool(n, &on, &perr) == 0) {
		if (on)
			return yaml_tree_error(err, n, "write the format (e.g. \"[Ticket#{number}]\"), "
					       "or false to switch it off");
	} else if (yaml_tree_read_string(n, &s, err) < 0) {
		return -1;
	}
	int rc = marker ? policy_set_body_marker(p, s, &perr) : policy_set_subject_tag(p, s, &perr);
	if (rc < 0)
		return yaml_tree_error(err, n, "%s", perr.msg);
	return 0;
}

static int string_list(const struct yaml_tree_node *n, char ***v_r, size_t *n_r,
		       struct err *err)
{
	const struct yaml_tree_node *const *v = NULL;
	size_t cnt = 0;
	if (node_list(n, &v, &cnt, err) < 0)
		return -1;
	char **out = xcalloc(cnt ? cnt : 1, sizeof(char *));
	for (size_t i = 0; i < cnt; i++) {
		if (config_read_text(LIST_ITEM(n, v, i), &out[i], err) < 0) {
			for (size_t k = 0; k < i; k++)
				free(out[k]);
			free(out);
			return -1;
		}
	}
	*v_r = out;
	*n_r = cnt;
	return 0;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int foreign_tags(struct policy *p, const struct yaml_tree_node *n, struct err *err)
{
	if (yaml_tree_expect_sequence(n, err) < 0)
		return -1;
	for (size_t i = 0; i < n->nitems; i++) {
		const struct yaml_tree_node *t = n->items[i], *name, *pat, *b;
		const char *ns, *ps;
		bool in_body = false;
		size_t off;
		struct err perr = {0};
		if (yaml_tree_expect_mapping(t, err) < 0 || yaml_tree_check_keys(t, foreign_keys, err) < 0 ||
		    yaml_tree_require(t, "name", &name, err) < 0 ||
		    yaml_tree_read_string(name, &ns, err) < 0 ||
		    yaml_tree_require(t, "pattern", &pat, err) < 0 ||
		    yaml_tree_read_string(pat, &ps, err) < 0)
			return -1;
		if (!ns[0] || strlen(ns) > 64)
			return yaml_tree_error(err, name, "a tag name has 1 to 64 characters");
		if ((b = yaml_tree_get(t, "in_body")) && yaml_tree_read_bool(b, &in_body, err) < 0)
			return -1;
		if (policy_add_foreign_tag(p, ns, ps, in_body, &off, &perr) < 0)
			return yaml_tree_error(err, pat, "%s", perr.msg);
	}
	return 0;
}

static int followup_parse(struct policy *p, const struct yaml_tree_node *map, struct err *err)
{
	const struct yaml_tree_node *n;
	int idx;
	uint64_t v;
	if (yaml_tree_expect_mapping(map, err) < 0 || yaml_tree_check_keys(map, followup_keys, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "subject_tag")) && tag_format(p, n, false, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "body_marker")) && tag_format(p, n, true, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "references")) && yaml_tree_read_bool(n, &p->references, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "subject_match_days"))) {
		if (yaml_tree_read_uint(n, 0, 365, &v, err) < 0)
			return -1;
		p->subject_days = (uint32_t)v;
	}
	if ((n = yaml_tree_get(map, "reply_prefixes"))) {
		char **w;
		size_t cnt;
		struct err perr = {0};
		if (string_list(n, &w, &cnt, err) < 0)
			return -1;
		int rc = policy_set_reply_prefixes(p, (const char *const *)w, cnt, &perr);
		strv_free(w, cnt);
		if (rc < 0)
			return yaml_tree_error(err, n, "%s", perr.msg);
	}
	if ((n = yaml_tree_get(map, "foreign_tags")) && foreign_tags(p, n, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "non_participant"))) {
		if (yaml_tree_read_enum(n, stranger_names, &idx, err) < 0)
			return -1;
		p->stranger = (enum plan_stranger)idx;
	}
	if ((n = yaml_tree_get(map, "trusted_domains"))) {
		char **w;
		size_t cnt;
		if (string_list(n, &w, &cnt, err) < 0)
			return -1;
		for (size_t i = 0; i < cnt; i++)
			policy_add_trusted_domain(p, w[i][0] == '@' ? w[i] + 1 : w[i]);
		strv_free(w, cnt);
	}
	if ((n = yaml_tree_get(map, "closed"))) {
		if (yaml_tree_read_enum(n, closed_names, &idx, err) < 0)
			return -1;
		p->closed = (enum plan_closed)idx;
	}
	if ((n = yaml_tree_get(map, "closed_statuses"))) {
		char **w;
		size_t cnt;
		struct err perr = {0};
		if (string_list(n, &w, &cnt, err) < 0)
			return -1;
		int rc = policy_set_closed_statuses(p, (const char *const *)w, cnt, &perr);
		strv_free(w, cnt);
		if (rc < 0)
			return yaml_tree_error(err, n, "%s", perr.msg);
	}
	if ((n = yaml_tree_get(map, "reopen_status"))) {
		char *s;
		if (config_read_text(n, &s, err) < 0)
			return -1;
		free(p->reopen_status);
		p->reopen_status = s;
	}
	return 0;
}

static int loops_parse(struct policy *p, const struct yaml_tree_node *map, struct err *err)
{
	const struct yaml_tree_node *n;
	int idx;
	uint64_t v;
	if (yaml_tree_expect_mapping(map, err) < 0 || yaml_tree_check_keys(map, loops_keys, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "auto_replies"))) {
		if (yaml_tree_read_enum(n, loop_names, &idx, err) < 0)
			return -1;
		p->auto_replies = (enum loop_policy)idx;
	}
	if ((n = yaml_tree_get(map, "bulk"))) {
		if (yaml_tree_read_enum(n, loop_names, &idx, err) < 0)
			return -1;
		p->bulk = (enum loop_policy)idx;
	}
	if ((n = yaml_tree_get(map, "bounces"))) {
		if (yaml_tree_read_enum(n, bounce_names, &idx, err) < 0)
			return -1;
		p->bounces = (enum bounce_policy)idx;
	}
	if ((n = yaml_tree_get(map, "max_tickets_per_sender"))) {
		if (yaml_tree_read_uint(n, 0, 1000000, &v, err) < 0)
			return -1;
		p->sender_cap = (uint32_t)v;
	}
	return 0;
}

int config_job_rules_parse(const struct config *cfg, struct config_job *j,
			   const struct yaml_tree_node *map, struct err *err)
{
	const struct yaml_tree_node *n;
	if ((n = yaml_tree_get(map, "own_addresses"))) {
		if (own_addresses(j, n, err) < 0)
			return -1;
	} else if (j->account && j->account->username && strchr(j->account->username, '@')) {
		/* the mailbox's own address, unless told otherwise */
		policy_add_own_address(&j->policy, j->account->username);
	}
	if ((n = yaml_tree_get(map, "followup")) && followup_parse(&j->policy, n, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "loops")) && loops_parse(&j->policy, n, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "rules")) && rules_files(cfg, j, n, err) < 0)
		return -1;
	return 0;
}

void config_job_rules_free(struct config_job *j)
{
	ruleset_free(&j->rules);
	strv_free(j->rule_files, j->nrule_files);
	j->rule_files = NULL;
	j->nrule_files = 0;
	policy_release(&j->policy);
}
