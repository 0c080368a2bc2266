/* Targets and disposes of committed messages (see dispose.h). */
#include "engine/job/dispose.h"

#include <stdlib.h>
#include <string.h>

#include "engine/util/log.h"
#include "engine/util/xalloc.h"
#include "rules/ruleset.h"

int dispose_open(struct dispose *d, struct source *src, const struct config_job *job,
		 struct err *err)
{
	memset(d, 0, sizeof(*d));
	d->src = src;
	d->keep = job->keep_on_server;
	d->mark_seen = d->keep && source_info(src)->marks_seen;
	d->badmail_stays = source_info(src)->badmail_stays;
	d->rules = job->rules;
	size_t n = job->rules ? ruleset_folder_count(job->rules) : 0;
	d->to_folder = xcalloc(n ? n : 1, sizeof(*d->to_folder));
	d->nfolders = n;
	/* keep_on_server with move_to is refused at load; a test run's source
	 * is read-only and creates nothing */
	if (n == 0 || d->keep)
		return 0;
	const char **names = xcalloc(n, sizeof(*names));
	for (size_t i = 0; i < n; i++)
		names[i] = ruleset_folder(job->rules, i);
	int rc = source_prepare_folders(src, names, n, err);
	free(names);
	return rc;
}

void dispose_release(struct dispose *d)
{
	for (size_t i = 0; i < d->nfolders; i++)
		uid_list_release(&d->to_folder[i]);
	free(d->to_folder);
	uid_list_release(&d->to_archive);
	uid_list_release(&d->to_badmail);
	uid_list_release(&d->to_seen);
	memset(d, 0, sizeof(*d));
}

unsigned dispose_folder_of(const struct dispose *d, const char *name)
{
	for (size_t i = 0; name && i < d->nfolders; i++)
		if (strcmp(ruleset_folder(d->rules, i), name) == 0)
			return (unsigned)(i + 1);
	return 0;
}

bool dispose_queue(struct dispose *d, uint32_t id, enum outcome o, unsigned folder)
{
	if (d->keep) {
		/* badmail in a shared mailbox: left unread for a person */
		if (!d->mark_seen || o == OUTCOME_BADMAIL)
			return false;
		uid_list_push(&d->to_seen, id);
		return true;
	}
	if (o == OUTCOME_BADMAIL && d->badmail_stays)
		return false;
	if (o == OUTCOME_BADMAIL)
		uid_list_push(&d->to_badmail, id);
	else if (folder > 0 && folder <= d->nfolders)
		uid_list_push(&d->to_folder[folder - 1], id);
	else
		uid_list_push(&d->to_archive, id);
	return true;
}

bool dispose_queue_again(struct dispose *d, const struct source_msg *m, enum outcome o,
			 unsigned folder)
{
	if (d->keep && (m->seen || source_info(d->src)->seen_refused))
		return false;
	return dispose_queue(d, m->id, o, folder);
}

size_t dispose_pending(const struct dispose *d)
{
	size_t n = d->to_archive.n + d->to_badmail.n + d->to_seen.n;
	for (size_t i = 0; i < d->nfolders; i++)
		n += d->to_folder[i].n;
	return n;
}

static int dispose_list(struct dispose *d, struct uid_list *l, enum source_dispose how,
			const char *folder, struct err *err)
{
	if (!l->n)
		return 0;
	/* on failure the list stays: the run tries once more before it ends,
	 * and the next run finds the messages processed and only disposes them */
	if (source_dispose(d->src, l->v, l->n, how, folder, err) < 0)
		return -1;
	if (folder)
		log_debug("job.moved", "rule_folder=\"%s\" count=%zu", folder, l->n);
	uid_list_clear(l);
	return 0;
}

int dispose_run(struct dispose *d, struct err *err)
{
	if (dispose_list(d, &d->to_archive, SOURCE_ARCHIVE, NULL, err) < 0 ||
	    dispose_list(d, &d->to_badmail, SOURCE_BADMAIL, NULL, err) < 0)
		return -1;
	for (size_t i = 0; i < d->nfolders; i++)
		if (dispose_list(d, &d->to_folder[i], SOURCE_FOLDER, ruleset_folder(d->rules, i),
				 err) < 0)
			return -1;
	return dispose_list(d, &d->to_seen, SOURCE_SEEN, NULL, err);
}
