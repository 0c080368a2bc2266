/* Folders and moves of committed messages (see dispose.h). */
#include "engine/job/dispose.h"

#include <stdlib.h>
#include <string.h>

#include "engine/util/log.h"
#include "engine/util/xalloc.h"
#include "rules/ruleset.h"

int dispose_open(struct dispose *d, struct imap_client *imap, const struct config_job *job,
		 struct err *err)
{
	if (imap_resolve_mailbox(imap, job->archive_folder, true, &d->archive, err) < 0)
		return -1;
	if (imap_resolve_mailbox(imap, job->badmail_folder, true, &d->badmail, err) < 0)
		return -1;
	/* a rule must not find its folder missing after COMMIT: create them now */
	size_t n = job->rules ? ruleset_folder_count(job->rules) : 0;
	d->folders = xcalloc(n ? n : 1, sizeof(*d->folders));
	d->to_folder = xcalloc(n ? n : 1, sizeof(*d->to_folder));
	d->nfolders = n;
	for (size_t i = 0; i < n; i++)
		if (imap_resolve_mailbox(imap, ruleset_folder(job->rules, i), true, &d->folders[i],
					 err) < 0)
			return -1;
	return 0;
}

void dispose_release(struct dispose *d)
{
	free(d->archive);
	free(d->badmail);
	for (size_t i = 0; i < d->nfolders; i++) {
		free(d->folders[i]);
		uid_list_release(&d->to_folder[i]);
	}
	free(d->folders);
	free(d->to_folder);
	uid_list_release(&d->to_archive);
	uid_list_release(&d->to_badmail);
	memset(d, 0, sizeof(*d));
}

unsigned dispose_folder_of(const struct config_job *job, const char *name)
{
	size_t n = job->rules ? ruleset_folder_count(job->rules) : 0;
	for (size_t i = 0; name && i < n; i++)
		if (strcmp(ruleset_folder(job->rules, i), name) == 0)
			return (unsigned)(i + 1);
	return 0;
}

void dispose_queue(struct dispose *d, uint32_t uid, enum outcome o, unsigned folder)
{
	if (o == OUTCOME_BADMAIL)
		uid_list_push(&d->to_badmail, uid);
	else if (folder > 0 && folder <= d->nfolders)
		uid_list_push(&d->to_folder[folder - 1], uid);
	else
		uid_list_push(&d->to_archive, uid);
}

size_t dispose_pending(const struct dispose *d)
{
	size_t n = d->to_archive.n + d->to_badmail.n;
	for (size_t i = 0; i < d->nfolders; i++)
		n += d->to_folder[i].n;
	return n;
}

static int move_list(struct imap_client *imap, struct uid_list *l, const char *folder,
		     struct err *err)
{
	if (!l->n)
		return 0;
	if (imap_move(imap, l->v, l->n, folder, err) < 0)
		return err_prefix(err, "moving to \"%s\"", folder);
	log_debug("job.moved", "folder=\"%s\" count=%zu", folder, l->n);
	uid_list_clear(l);
	return 0;
}

int dispose_run(struct dispose *d, struct imap_client *imap, struct err *err)
{
	if (move_list(imap, &d->to_archive, d->archive, err) < 0 ||
	    move_list(imap, &d->to_badmail, d->badmail, err) < 0)
		return -1;
	for (size_t i = 0; i < d->nfolders; i++)
		if (move_list(imap, &d->to_folder[i], d->folders[i], err) < 0)
			return -1;
	return 0;
}
