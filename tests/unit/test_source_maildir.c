/*
 * The Maildir source on real directories: what is listed (new/ and cur/,
 * not tmp/, not trashed, not hidden, symlinked or oddly named files), the
 * unique name as identity, Maildir++ folders created on open (and the
 * rules' move_to folders when prepared, moved into by SOURCE_FOLDER), and the
 * races a live Maildir has: a file moved from new/ to cur/ or renamed for
 * a flag between listing and dispose, a file gone, a name already taken in
 * the target, a link + unlink interrupted halfway, a FIFO planted in new/.
 * And maildir_probe (test-connection): the same count as a listing, and
 * nothing touched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/fetch/maildir.h"
#include "engine/fetch/source.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"
#include "tests/unit/test.h"

static char g_root[256];

static void put(const char *rel, const char *data)
{
	char *p = xasprintf("%s/%s", g_root, rel);
	FILE *f = fopen(p, "w");
	if (!f || fputs(data, f) < 0 || fclose(f) != 0) {
		perror(p);
		exit(2);
	}
	free(p);
}

static bool exists(const char *rel)
{
	char *p = xasprintf("%s/%s", g_root, rel);
	struct stat st;
	bool ok = lstat(p, &st) == 0;
	free(p);
	return ok;
}

static char *slurp(const char *rel)
{
	char *p = xasprintf("%s/%s", g_root, rel);
	FILE *f = fopen(p, "r");
	free(p);
	if (!f)
		return xstrdup("(missing)");
	char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return xstrdup(buf);
}

static void mkdirs(const char *rel)
{
	static const char *const subs[] = {"", "/cur", "/new", "/tmp"};
	for (size_t i = 0; i < 4; i++) {
		char *p = xasprintf("%s/%s%s", g_root, rel, subs[i]);
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			perror(p);
			exit(2);
		}
		free(p);
	}
}

static void rm_rf(const char *path)
{
	char *cmd = xasprintf("rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", path);
	free(cmd);
}

static void fresh_maildir(void)
{
	rm_rf(g_root);
	if (mkdir(g_root, 0750) < 0) {
		perror(g_root);
		exit(2);
	}
	mkdirs(".");
}

static struct config_account g_acc;
static struct config_job g_job;

static void job_init(bool keep)
{
	static char name[] = "md", mailbox[] = "INBOX", archive[] = "Processed",
		    badmail[] = "Junk/Bad";
	memset(&g_acc, 0, sizeof(g_acc));
	g_acc.name = name;
	g_acc.protocol = PROTO_MAILDIR;
	g_acc.path = g_root;
	memset(&g_job, 0, sizeof(g_job));
	g_job.name = name;
	g_job.account = &g_acc;
	g_job.mailbox = mailbox;
	g_job.archive_folder = archive;
	g_job.badmail_folder = badmail;
	g_job.keep_on_server = keep;
}

struct got {
	int n;
	char body[8][128];
	uint32_t id[8];
	size_t len[8];
	bool null[8];
};

static int collect(void *ud, uint32_t id, const char *raw, size_t len, struct err *err)
{
	struct got *g = ud;
	(void)err;
	if (g->n == 8)
		return 0;
	g->id[g->n] = id;
	g->len[g->n] = len;
	g->null[g->n] = raw == NULL;
	snprintf(g->body[g->n], sizeof(g->body[0]), "%.*s", raw ? (int)(len < 127 ? len : 127) : 0,
		 raw ? raw : "");
	g->n++;
	return 0;
}

TEST(lists_new_and_cur_by_unique_name)
{
	fresh_maildir();
	put("new/1000.M1P1.host,S=6", "mail A");
	put("cur/1001.M2P2.host:2,S", "mail B");
	put("cur/1002.M3P3.host:2,ST", "trashed");
	put("new/.hidden", "x");
	put("new/bad name", "x");
	put("tmp/1004.M5P5.host", "being delivered");
	put("new/1003.M4P4.host", "this one is much too big for the limit");
	char *target = xasprintf("%s/new/1000.M1P1.host,S=6", g_root);
	char *link = xasprintf("%s/new/1005.M6P6.link", g_root);
	CHECK(symlink(target, link) == 0);
	free(target);
	free(link);

	job_init(false);
	struct source_limits lim = {.max_message = 20};
	struct source *src = NULL;
	struct err err = {0};
	CHECK_INT(source_open(&g_job, SOURCE_READ_WRITE, &lim, &src, &err), 0);
	if (!src) {
		fprintf(stderr, "  %s\n", err.msg);
		return;
	}
	const struct source_info *info = source_info(src);
	CHECK_STR(info->kind, "maildir");
	CHECK_STR(info->mailbox, "INBOX");
	CHECK_INT(info->identity, SOURCE_ID_KEY);
	CHECK(!info->badmail_stays);
	/* Maildir++ folders, created on open */
	CHECK(exists(".Processed/cur") && exists(".Processed/new") && exists(".Processed/tmp"));
	CHECK(exists(".Processed/maildirfolder"));
	CHECK(exists(".Junk.Bad/new") && exists(".Junk.Bad/maildirfolder"));

	const struct source_msg *v;
	size_t n = 0;
	CHECK_INT(source_list(src, &v, &n, &err), 0);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_STR(v[0].key, "1000.M1P1.host,S=6");
		CHECK_INT(v[0].size, 6);
		CHECK_STR(v[1].key, "1001.M2P2.host");
		CHECK_STR(v[2].key, "1003.M4P4.host");
		CHECK(v[0].id == 1 && v[1].id == 2 && v[2].id == 3);
	}
	struct got g = {0};
	uint32_t ids[] = {1, 2, 3, 2};
	CHECK_INT(source_fetch(src, ids, 4, collect, &g, &err), 0);
	CHECK_INT(g.n, 3);
	CHECK_STR(g.body[0], "mail A");
	CHECK_STR(g.body[1], "mail B");
	CHECK(g.null[2]);            /* over max_message: not read, reported */
	CHECK_INT(g.len[2], 38);
	CHECK_INT(source_close(&src, &err), 0);
}

TEST(dispose_moves_and_survives_races)
{
	fresh_maildir();
	put("new/2000.M1P1.host", "first");
	put("new/2001.M2P2.host", "second");
	put("cur/2002.M3P3.host:2,", "third");
	put("new/2003.M4P4.host", "fourth");
	put("new/2004.M5P5.host", "fifth");
	job_init(false);
	struct source *src = NULL;
	struct err err = {0};
	CHECK_INT(source_open(&g_job, SOURCE_READ_WRITE, NULL, &src, &err), 0);
	if (!src) {
		fprintf(stderr, "  %s\n", err.msg);
		return;
	}
	const struct source_msg *v;
	size_t n = 0;
	CHECK_INT(source_list(src, &v, &n, &err), 0);
	CHECK_INT(n, 5);

	/* meanwhile: a client reads #1 (new/ → cur/ with a flag), flags #3,
	 * deletes #4, and #5's name is already taken in the archive by
	 * another message; #2 was half moved by an earlier run (link only) */
	char *a = xasprintf("%s/new/2000.M1P1.host", g_root);
	char *b = xasprintf("%s/cur/2000.M1P1.host:2,S", g_root);
	CHECK(rename(a, b) == 0);
	free(a);
	free(b);
	a = xasprintf("%s/cur/2002.M3P3.host:2,", g_root);
	b = xasprintf("%s/cur/2002.M3P3.host:2,F", g_root);
	CHECK(rename(a, b) == 0);
	free(a);
	free(b);
	a = xasprintf("%s/new/2003.M4P4.host", g_root);
	CHECK(unlink(a) == 0);
	free(a);
	put(".Processed/new/2004.M5P5.host", "someone else");
	a = xasprintf("%s/new/2001.M2P2.host", g_root);
	b = xasprintf("%s/.Junk.Bad/new/2001.M2P2.host", g_root);
	CHECK(link(a, b) == 0);
	free(a);
	free(b);

	struct got g = {0};
	uint32_t first[] = {1};
	CHECK_INT(source_fetch(src, first, 1, collect, &g, &err), 0);
	CHECK_INT(g.n, 1);
	CHECK_STR(g.body[0], "first");

	uint32_t archive[] = {1, 3, 4, 5};
	CHECK_INT(source_dispose(src, archive, 4, SOURCE_ARCHIVE, NULL, &err), 0);
	uint32_t bad[] = {2};
	CHECK_INT(source_dispose(src, bad, 1, SOURCE_BADMAIL, NULL, &err), 0);

	char *s = slurp(".Processed/cur/2000.M1P1.host:2,S");
	CHECK_STR(s, "first");
	free(s);
	s = slurp(".Processed/cur/2002.M3P3.host:2,F");
	CHECK_STR(s, "third");
	free(s);
	s = slurp(".Processed/new/2004.M5P5.host");
	CHECK_STR(s, "someone else");
	free(s);
	s = slurp(".Processed/new/2004.M5P5.host.m2t1");
	CHECK_STR(s, "fifth");
	free(s);
	s = slurp(".Junk.Bad/new/2001.M2P2.host");
	CHECK_STR(s, "second");
	free(s);
	CHECK(!exists("new/2000.M1P1.host") && !exists("cur/2000.M1P1.host:2,S"));
	CHECK(!exists("new/2001.M2P2.host"));
	CHECK(!exists("new/2004.M5P5.host"));
	CHECK_INT(source_list(src, &v, &n, &err), 0);
	CHECK_INT(n, 0);
	CHECK_INT(source_close(&src, &err), 0);
}

TEST(fifo_and_symlink_never_followed)
{
	fresh_maildir();
	char *fifo = xasprintf("%s/new/3000.M1P1.fifo", g_root);
	CHECK(mkfifo(fifo, 0600) == 0);
	free(fifo);
	put("new/3001.M2P2.host", "real");
	job_init(false);
	struct source *src = NULL;
	struct err err = {0};
	CHECK_INT(source_open(&g_job, SOURCE_READ_WRITE, NULL, &src, &err), 0);
	if (!src)
		return;
	const struct source_msg *v;
	size_t n = 0;
	CHECK_INT(source_list(src, &v, &n, &err), 0);
	/* readdir says FIFO: not listed at all */
	CHECK_INT(n, 1);
	struct got g = {0};
	uint32_t ids[] = {1};
	CHECK_INT(source_fetch(src, ids, 1, collect, &g, &err), 0);
	CHECK_INT(g.n, 1);
	CHECK_STR(g.body[0], "real");
	source_close(&src, NULL);
}

TEST(read_only_and_keep_touch_nothing)
{
	fresh_maildir();
	put("new/4000.M1P1.host", "x");
	job_init(false);
	struct source *src = NULL;
	struct err err = {0};
	CHECK_INT(source_open(&g_job, SOURCE_READ_ONLY, NULL, &src, &err), 0);
	CHECK(!exists(".Processed"));
	uint32_t ids[] = {1};
	const struct source_msg *v;
	size_t n;
	if (src) {
		CHECK_INT(source_list(src, &v, &n, &err), 0);
		CHECK(source_dispose(src, ids, 1, SOURCE_ARCHIVE, NULL, &err) < 0);
		CHECK_INT(err.cls, ERR_FATAL);
	}
	source_close(&src, NULL);
	job_init(true);
	CHECK_INT(source_open(&g_job, SOURCE_READ_WRITE, NULL, &src, &err), 0);
	CHECK(!exists(".Processed") && !exists(".Junk.Bad"));
	source_close(&src, NULL);
	CHECK(exists("new/4000.M1P1.host"));
}

/* The rules' folders: created by prepare (not in read-only mode), moved
 * into by name; a folder never prepared is a bug, not a silent archive. */
TEST(prepared_folders_take_moved_mail)
{
	fresh_maildir();
	put("new/5000.M1P1.host", "news");
	put("cur/5001.M2P2.host:2,S", "vip");
	put("new/5002.M3P3.host", "plain");
	job_init(false);
	struct source *src = NULL;
	struct err err = {0};
	const char *folders[] = {"Newsletters", "Customers/VIP"};

	CHECK_INT(source_open(&g_job, SOURCE_READ_ONLY, NULL, &src, &err), 0);
	CHECK_INT(source_prepare_folders(src, folders, 2, &err), 0);
	CHECK(!exists(".Newsletters") && !exists(".Customers.VIP"));
	source_close(&src, NULL);

	CHECK_INT(source_open(&g_job, SOURCE_READ_WRITE, NULL, &src, &err), 0);
	if (!src)
		return;
	CHECK_INT(source_prepare_folders(src, folders, 2, &err), 0);
	CHECK(exists(".Newsletters/new") && exists(".Newsletters/cur") &&
	      exists(".Newsletters/tmp") && exists(".Newsletters/maildirfolder"));
	CHECK(exists(".Customers.VIP/cur"));
	/* once per session */
	CHECK(source_prepare_folders(src, folders, 2, &err) < 0);
	CHECK_INT(err.cls, ERR_FATAL);
	const struct source_msg *v;
	size_t n = 0;
	CHECK_INT(source_list(src, &v, &n, &err), 0);
	CHECK_INT(n, 3);
	uint32_t news[] = {1}, vip[] = {2}, plain[] = {3};
	CHECK_INT(source_dispose(src, news, 1, SOURCE_FOLDER, "Newsletters", &err), 0);
	CHECK_INT(source_dispose(src, vip, 1, SOURCE_FOLDER, "Customers/VIP", &err), 0);
	CHECK(source_dispose(src, plain, 1, SOURCE_FOLDER, "Elsewhere", &err) < 0);
	CHECK_INT(err.cls, ERR_FATAL);
	CHECK(source_dispose(src, plain, 1, SOURCE_FOLDER, NULL, &err) < 0);
	CHECK_INT(source_dispose(src, plain, 1, SOURCE_ARCHIVE, NULL, &err), 0);
	char *s = slurp(".Newsletters/new/5000.M1P1.host");
	CHECK_STR(s, "news");
	free(s);
	s = slurp(".Customers.VIP/cur/5001.M2P2.host:2,S");
	CHECK_STR(s, "vip");
	free(s);
	CHECK(exists(".Processed/new/5002.M3P3.host"));
	CHECK_INT(source_close(&src, &err), 0);

	/* the folders exist now: preparing them again in a new session is fine */
	CHECK_INT(source_open(&g_job, SOURCE_READ_WRITE, NULL, &src, &err), 0);
	CHECK_INT(source_prepare_folders(src, folders, 2, &err), 0);
	source_close(&src, NULL);
}

TEST(broken_maildirs_are_source_errors)
{
	fresh_maildir();
	job_init(false);
	struct source *src = NULL;
	struct err err = {0};
	static char sub[] = "Support";
	g_job.mailbox = sub;
	CHECK(source_open(&g_job, SOURCE_READ_WRITE, NULL, &src, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "Support") != NULL);
	mkdirs(".Support");
	CHECK_INT(source_open(&g_job, SOURCE_READ_WRITE, NULL, &src, &err), 0);
	source_close(&src, NULL);

	job_init(false);
	char *cur = xasprintf("%s/cur", g_root);
	rm_rf(cur);
	free(cur);
	CHECK(source_open(&g_job, SOURCE_READ_WRITE, NULL, &src, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "not a Maildir") != NULL);
	static char nowhere[] = "/nonexistent/m2t-maildir";
	g_acc.path = nowhere;
	CHECK(source_open(&g_job, SOURCE_READ_WRITE, NULL, &src, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(src == NULL);
}

/* test-connection's look: the count a run would list, nothing created or moved. */
TEST(probe_counts_what_a_run_lists)
{
	fresh_maildir();
	put("new/5000.M1P1.host", "a");
	put("new/.hidden", "x");
	put("new/bad name", "x");
	put("cur/5001.M2P2.host:2,S", "b");
	put("cur/5002.M3P3.host:2,ST", "trashed");
	put("tmp/5003.M4P4.host", "being delivered");
	char *fifo = xasprintf("%s/new/5004.M5P5.fifo", g_root);
	CHECK(mkfifo(fifo, 0600) == 0);
	free(fifo);
	mkdirs(".Processed");
	put(".Processed/cur/5005.M6P6.host:2,S", "done");
	struct maildir_probe p;
	maildir_probe(g_root, "INBOX", &p);
	CHECK(p.exists && p.is_maildir && p.readable && p.renamable && p.can_create);
	CHECK_INT(p.in_new, 1);
	CHECK_INT(p.in_cur, 1);
	CHECK_INT(p.mode, 0750);
	CHECK_STR(p.problem, "");
	job_init(true);
	struct source *src = NULL;
	struct err err = {0};
	CHECK_INT(source_open(&g_job, SOURCE_READ_ONLY, NULL, &src, &err), 0);
	const struct source_msg *v;
	size_t n = 0;
	if (src)
		CHECK_INT(source_list(src, &v, &n, &err), 0);
	CHECK_INT(n, p.in_new + p.in_cur);
	source_close(&src, NULL);
	maildir_probe(g_root, "Processed", &p);
	CHECK(p.is_maildir);
	CHECK_INT(p.in_cur, 1);
	/* a missing folder, a folder that is no Maildir, a path that is none */
	maildir_probe(g_root, "Junk/Bad", &p);
	CHECK(!p.exists);
	CHECK_STR(p.problem, "missing");
	CHECK(!exists(".Junk.Bad"));
	char *half = xasprintf("%s/.Half", g_root);
	CHECK(mkdir(half, 0700) == 0);
	free(half);
	maildir_probe(g_root, "Half", &p);
	CHECK(p.exists && !p.is_maildir);
	CHECK(strstr(p.problem, "not a Maildir: no cur/") != NULL);
	maildir_probe("/nonexistent/m2t-maildir", "INBOX", &p);
	CHECK(!p.exists);
	CHECK(strstr(p.problem, "cannot open the Maildir") != NULL);
	/* a symlinked Maildir is not followed, as the driver does not follow it */
	char *link = xasprintf("%s-link", g_root);
	CHECK(symlink(g_root, link) == 0);
	maildir_probe(link, "INBOX", &p);
	CHECK(!p.exists);
	CHECK(strstr(p.problem, "symbolic link") != NULL);
	unlink(link);
	free(link);
	CHECK(exists("new/5000.M1P1.host") && exists("cur/5002.M3P3.host:2,ST"));
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(g_root, sizeof(g_root), "%s/m2t-maildir-%ld", tmp && tmp[0] ? tmp : "/tmp",
		 (long)getpid());
	log_set_level(LOG_ERROR);
	RUN(lists_new_and_cur_by_unique_name);
	RUN(dispose_moves_and_survives_races);
	RUN(fifo_and_symlink_never_followed);
	RUN(read_only_and_keep_touch_nothing);
	RUN(prepared_folders_take_moved_mail);
	RUN(broken_maildirs_are_source_errors);
	RUN(probe_counts_what_a_run_lists);
	rm_rf(g_root);
	return test_summary();
}
