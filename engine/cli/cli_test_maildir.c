/*
 * `test-connection` for a Maildir account (protocol: maildir): what a run
 * needs of the directory, looked at without changing it. The Maildir must
 * exist with cur/ new/ tmp/; each job's mailbox folder must exist and be
 * readable, and renamable unless the job keeps its mail in place; its
 * archive and badmail folders must exist and take renames, or be
 * creatable (a run creates them). Rights are those of the user running
 * the command: run it as the daemon's user.
 *
 * SECURITY: prints paths from the configuration and counts, never a file
 * name from the Maildir.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "engine/cli/cli_test_int.h"
#include "engine/fetch/maildir.h"

static void rights_text(const struct maildir_probe *p, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%s%s", p->readable ? "read" : "NO read",
		 p->renamable ? ", rename" : ", NO rename",
		 p->can_create ? ", create folders" : ", NO create folders");
}

/* One folder's line; false when a run of the job would fail on it. */
static bool folder_line(const struct config_account *a, const char *label, const char *name,
			bool is_mailbox, bool needs_rename, bool root_can_create)
{
	struct maildir_probe p;
	maildir_probe(a->path, name, &p);
	if (!p.exists && !is_mailbox && strstr(p.problem, "missing")) {
		printf("    %-8s %s: missing%s\n", label, name,
		       root_can_create ? " (created at the first run)"
				       : ", and cannot be created: no write right on the Maildir");
		return root_can_create;
	}
	if (!p.is_maildir) {
		printf("    %-8s %s: %s\n", label, name, p.problem);
		return false;
	}
	uint32_t n = p.in_new + p.in_cur;
	printf("    %-8s %s: %u message%s (new %u, cur %u)\n", label, name, n, n == 1 ? "" : "s",
	       p.in_new, p.in_cur);
	if (!p.readable || (needs_rename && !p.renamable)) {
		printf("             %s\n", p.problem);
		return false;
	}
	return true;
}

static bool check_job(const struct config_account *a, const struct config_job *j,
		      bool root_can_create)
{
	bool move = !j->keep_on_server;
	bool ok = true;
	printf("  job %s:\n", j->name);
	ok &= folder_line(a, "mailbox", j->mailbox, true, move, root_can_create);
	if (!move) {
		printf("    keep_on_server: mail stays in the mailbox, no folders used\n");
		return ok;
	}
	ok &= folder_line(a, "archive", j->archive_folder, false, true, root_can_create);
	ok &= folder_line(a, "badmail", j->badmail_folder, false, true, root_can_create);
	return ok;
}

int cli_test_maildir(const struct config *cfg, const struct config_account *a)
{
	struct maildir_probe root;
	char rights[96];
	int njobs = 0;
	bool ok = true;
	maildir_probe(a->path, "INBOX", &root);
	if (!root.is_maildir) {
		printf("  Maildir:      %s\n", root.problem);
		printf("FAILED: %s: %s\n", a->path, root.problem);
		return EX_UNAVAILABLE;
	}
	printf("  Maildir:      cur/ new/ tmp/, owner uid %u gid %u, mode %04o\n", root.uid, root.gid,
	       root.mode);
	rights_text(&root, rights, sizeof(rights));
	printf("  rights:       %s (as uid %u)\n", rights, (unsigned)geteuid());
	for (size_t i = 0; i < cfg->njobs; i++) {
		const struct config_job *j = &cfg->jobs[i];
		if (j->account != a)
			continue;
		njobs++;
		ok &= check_job(a, j, root.can_create);
	}
	if (!ok) {
		printf("FAILED: a job of this account could not run (see above)\n");
		return EX_UNAVAILABLE;
	}
	if (njobs)
		printf("OK: every job's folders can be used\n");
	else
		printf("OK: the Maildir can be read (no job uses this account)\n");
	return EX_OK;
}
