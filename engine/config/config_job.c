/*
 * jobs: — which account and mailbox a job reads, where mail goes after it
 * is done, when the job runs (schedule, timezone), and the limits one mail
 * may cost.
 *
 * The account's protocol shapes the folder keys: POP3 has one mailbox and
 * no folders, so mailbox, archive_folder and badmail_folder are refused
 * there (an error, not a warning: mail would otherwise silently go
 * somewhere the admin did not expect — deleted, not archived); Maildir
 * folders are Maildir++ subfolders, checked here so a name can never leave
 * the Maildir.
 */
#include "engine/config/config_internal.h"

#include <stdlib.h>
#include <string.h>

#include "engine/util/xalloc.h"

#define KB 1024ULL
#define MB (1024ULL * 1024)
#define GB (1024ULL * 1024 * 1024)

static const char *const job_keys[] = {
	"account", "mailbox", "archive_folder", "badmail_folder", "schedule", "timezone",
	"max_message_size", "batch_size", "keep_raw", "attach_html", "limits", "keep_on_server",
	"rules", "own_addresses", "followup", "loops", "fetch", "search", "mark_seen", NULL,
};
static const char *const folder_keys[] = {"mailbox", "archive_folder", "badmail_folder", NULL};
static const char *const limit_keys[] = {
	"max_parts", "max_depth", "max_header_bytes", "max_text_bytes", "rules_time", NULL,
};

static int limits_parse(struct config_job *j, const struct yaml_tree_node *map,
			struct err *err)
{
	struct mime_limits *lim = &j->limits;
	const struct yaml_tree_node *n;
	uint64_t v;
	if (yaml_tree_expect_mapping(map, err) < 0 || yaml_tree_check_keys(map, limit_keys, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "max_parts"))) {
		if (yaml_tree_read_uint(n, 1, 100000, &v, err) < 0)
			return -1;
		lim->max_parts = (uint32_t)v;
	}
	if ((n = yaml_tree_get(map, "max_depth"))) {
		if (yaml_tree_read_uint(n, 1, 1000, &v, err) < 0)
			return -1;
		lim->max_depth = (uint32_t)v;
	}
	if ((n = yaml_tree_get(map, "max_header_bytes")) &&
	    yaml_tree_read_size(n, 1 * KB, 64 * MB, &lim->max_header_bytes, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "max_text_bytes")) &&
	    yaml_tree_read_size(n, 1 * KB, 1 * GB, &lim->max_text_bytes, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "rules_time")) &&
	    yaml_tree_read_duration_ms(n, 10, 600000, &j->rules_budget_ms, err) < 0)
		return -1;
	return 0;
}

static int account_find(struct config *cfg, struct config_job *j,
			const struct yaml_tree_node *node, struct err *err)
{
	const char *name;
	if (yaml_tree_read_string(node, &name, err) < 0)
		return -1;
	for (size_t i = 0; i < cfg->naccounts; i++) {
		if (strcmp(cfg->accounts[i].name, name) == 0) {
			j->account = &cfg->accounts[i];
			return 0;
		}
	}
	const char **names = xcalloc(cfg->naccounts + 1, sizeof(*names));
	for (size_t i = 0; i < cfg->naccounts; i++)
		names[i] = cfg->accounts[i].name;
	const char *hint = yaml_tree_suggest(name, names);
	char q[64];
	yaml_tree_quote(node, q, sizeof(q));
	if (hint)
		yaml_tree_error(err, node, "no account named %s (did you mean \"%s\"?)", q, hint);
	else
		yaml_tree_error(err, node, "no account named %s", q);
	free(names);
	return -1;
}

/*
 * The schedule is parsed at load, so that a typo stops the daemon from
 * starting instead of silently never running the job. The error points at
 * the character: the scalar's column, past the opening quote, plus the
 * position cron_parse() names (exact as long as no escape or doubled quote
 * comes before it, which a cron expression has no use for).
 */
static int schedule_parse(struct config_job *j, const struct yaml_tree_node *n, struct err *err)
{
	struct err cerr = {0};
	size_t pos = 0;
	if (config_read_text(n, &j->schedule, err) < 0)
		return -1;
	if (cron_parse(j->schedule, &j->cron, &pos, &cerr) == 0)
		return 0;
	struct yaml_tree_node at = *n;
	if (pos <= n->len && !memchr(n->value, '\\', pos) && !memchr(n->value, '\'', pos) &&
	    !memchr(n->value, '"', pos))
		at.column += (unsigned)pos + (n->quoted ? 1 : 0);
	return yaml_tree_error(err, &at, "%s", cerr.msg);
}

/* Jobs in the same zone share one loaded struct tz (config.zones). */
static int zone_find(struct config *cfg, struct config_job *j, const struct yaml_tree_node *n,
		     struct err *err)
{
	struct tz *tz = NULL;
	struct err zerr = {0};
	if (n && config_read_text(n, &j->timezone, err) < 0)
		return -1;
	const char *name = j->timezone ? j->timezone : "UTC";
	for (size_t i = 0; i < cfg->nzones; i++) {
		if (strcmp(tz_name(cfg->zones[i]), name) == 0) {
			j->tz = cfg->zones[i];
			return 0;
		}
	}
	if (tz_load(name, &tz, &zerr) < 0)
		return yaml_tree_error(err, n, "%s", zerr.msg);
	cfg->zones = xreallocarray(cfg->zones, cfg->nzones + 1, sizeof(*cfg->zones));
	cfg->zones[cfg->nzones++] = tz;
	j->tz = tz;
	return 0;
}

static int text_or_default(const struct yaml_tree_node *map, const char *key, const char *def,
			   char **s_r, struct err *err)
{
	const struct yaml_tree_node *n = yaml_tree_get(map, key);
	if (n)
		return config_read_text(n, s_r, err);
	*s_r = xstrdup(def);
	return 0;
}

/*
 * A Maildir++ folder: "INBOX" (the Maildir itself), or names whose parts,
 * split at '/' or '.', are non-empty ("Support/Level2" is .Support.Level2).
 * An empty part would make "..", a path outside the Maildir.
 */
bool config_maildir_folder_ok(const char *name)
{
	if (strcmp(name, "INBOX") == 0)
		return true;
	bool empty_part = true;
	for (const char *p = name; *p; p++) {
		if (*p == '/' || *p == '.') {
			if (empty_part)
				return false;
			empty_part = true;
		} else {
			empty_part = false;
		}
	}
	return !empty_part;
}

static int maildir_folder_check(const struct yaml_tree_node *n, const char *name,
				struct err *err)
{
	if (!config_maildir_folder_ok(name))
		return yaml_tree_error(err, n, "a Maildir folder is INBOX or names separated by "
				       "'/' or '.', none empty");
	return 0;
}

/* POP3: the maildrop is the only mailbox; there are no folders to move to. */
static int pop3_folders(struct config_job *j, const struct yaml_tree_node *map,
			struct err *err)
{
	const struct yaml_tree_node *n;
	for (const char *const *k = folder_keys; *k; k++)
		if ((n = yaml_tree_get(map, *k)))
			return yaml_tree_error(err, yaml_tree_key_node(n),
					       "account \"%s\" is pop3, which has one mailbox and "
					       "no folders: done mail is deleted (or kept with "
					       "keep_on_server: true), badmail stays on the server",
					       j->account->name);
	j->mailbox = xstrdup("INBOX");
	return 0;
}

/*
 * keep_on_server: true leaves done mail where it is; IMAP marks it \Seen
 * unless mark_seen: false. mark_seen is IMAP's (POP3 has no flags; a
 * Maildir job that keeps its mail renames nothing) and only means
 * something for mail that stays: refused elsewhere, saying why.
 */
static int keep_parse(struct config_job *j, const struct yaml_tree_node *map, struct err *err)
{
	const struct yaml_tree_node *n;
	if ((n = yaml_tree_get(map, "keep_on_server")) &&
	    yaml_tree_read_bool(n, &j->keep_on_server, err) < 0)
		return -1;
	j->mark_seen = j->keep_on_server && j->account->protocol == PROTO_IMAP;
	if (!(n = yaml_tree_get(map, "mark_seen")))
		return 0;
	if (j->account->protocol != PROTO_IMAP)
		return yaml_tree_error(err, yaml_tree_key_node(n), "mark_seen: is for IMAP; "
				       "account \"%s\" is %s, whose kept mail is never marked",
				       j->account->name,
				       j->account->protocol == PROTO_POP3 ? "pop3" : "maildir");
	if (!j->keep_on_server)
		return yaml_tree_error(err, yaml_tree_key_node(n), "mark_seen: goes with "
				       "keep_on_server: true; a job that moves its mail marks "
				       "nothing");
	return yaml_tree_read_bool(n, &j->mark_seen, err);
}

/*
 * fetch: all | unseen, search: QUERY. Unseen means something for IMAP
 * (\Seen) and Maildir (the S flag); POP3 has no flags. A search is IMAP's.
 */
static int selection_parse(struct config_job *j, const struct yaml_tree_node *map,
			   struct err *err)
{
	static const char *const fetch_names[] = {"all", "unseen", NULL};
	const struct yaml_tree_node *n;
	int idx;
	if ((n = yaml_tree_get(map, "fetch"))) {
		if (yaml_tree_read_enum(n, fetch_names, &idx, err) < 0)
			return -1;
		j->fetch = idx == 1 ? JOB_FETCH_UNSEEN : JOB_FETCH_ALL;
		if (j->fetch == JOB_FETCH_UNSEEN && j->account->protocol == PROTO_POP3)
			return yaml_tree_error(err, n, "account \"%s\" is pop3, which keeps no "
					       "seen flags: only fetch: all", j->account->name);
	}
	if ((n = yaml_tree_get(map, "search"))) {
		const char *q, *why;
		size_t pos;
		if (j->account->protocol != PROTO_IMAP)
			return yaml_tree_error(err, yaml_tree_key_node(n), "search: is an IMAP "
					       "query; account \"%s\" is not imap",
					       j->account->name);
		if (yaml_tree_read_string(n, &q, err) < 0)
			return -1;
		if (config_search_check(q, &j->search_utf8, &pos, &why) < 0)
			return yaml_tree_error(err, n, "search query at byte %zu: %s", pos + 1,
					       why);
		j->search = xstrdup(q);
	}
	return 0;
}

static int job_parse(struct config *cfg, struct config_job *j,
		     const struct yaml_tree_node *key, const struct yaml_tree_node *map,
		     struct err *err)
{
	const struct yaml_tree_node *n;
	uint64_t v;
	j->name = xstrdup(key->value);
	j->line = key->line;
	j->batch_size = 500;
	j->keep_raw = true;
	j->rules_budget_ms = 2000;
	mime_limits_default(&j->limits);
	policy_init(&j->policy);
	if (yaml_tree_expect_mapping(map, err) < 0 || yaml_tree_check_keys(map, job_keys, err) < 0)
		return -1;
	if (yaml_tree_require(map, "account", &n, err) < 0 || account_find(cfg, j, n, err) < 0)
		return -1;
	if (yaml_tree_require(map, "schedule", &n, err) < 0 || schedule_parse(j, n, err) < 0 ||
	    zone_find(cfg, j, yaml_tree_get(map, "timezone"), err) < 0)
		return -1;
	/* mailbox names are kept as written: the server's separator decides */
	if (j->account->protocol == PROTO_POP3) {
		if (pop3_folders(j, map, err) < 0)
			return -1;
	} else if (text_or_default(map, "mailbox", "INBOX", &j->mailbox, err) < 0 ||
		   text_or_default(map, "archive_folder", "Processed", &j->archive_folder, err) < 0 ||
		   text_or_default(map, "badmail_folder", "Badmail", &j->badmail_folder, err) < 0) {
		return -1;
	}
	if (j->account->protocol == PROTO_MAILDIR) {
		const char *const names[] = {j->mailbox, j->archive_folder, j->badmail_folder};
		for (size_t i = 0; i < 3; i++) {
			n = yaml_tree_get(map, folder_keys[i]);
			if (n && maildir_folder_check(n, names[i], err) < 0)
				return -1;
		}
	}
	if (keep_parse(j, map, err) < 0 || selection_parse(j, map, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "max_message_size")) &&
	    yaml_tree_read_size(n, 1 * KB, 1 * GB, &j->limits.max_size, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "batch_size"))) {
		if (yaml_tree_read_uint(n, 1, 1000, &v, err) < 0)
			return -1;
		j->batch_size = (uint32_t)v;
	}
	if ((n = yaml_tree_get(map, "keep_raw")) && yaml_tree_read_bool(n, &j->keep_raw, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "attach_html")) &&
	    yaml_tree_read_bool(n, &j->attach_html, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "limits")) && limits_parse(j, n, err) < 0)
		return -1;
	return config_job_rules_parse(cfg, j, map, err);
}

int config_jobs_parse(struct config *cfg, const struct yaml_tree_node *jobs, struct err *err)
{
	if (yaml_tree_expect_mapping(jobs, err) < 0)
		return -1;
	if (jobs->npairs == 0)
		return yaml_tree_error(err, jobs, "at least one job is required");
	cfg->jobs = xcalloc(jobs->npairs, sizeof(*cfg->jobs));
	for (size_t i = 0; i < jobs->npairs; i++) {
		const struct yaml_tree_pair *p = &jobs->pairs[i];
		if (config_check_name(p->key, "job", err) < 0)
			return -1;
		cfg->njobs = i + 1;
		if (job_parse(cfg, &cfg->jobs[i], p->key, p->value, err) < 0)
			return -1;
	}
	return 0;
}
