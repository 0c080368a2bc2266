/*
 * Golden tests of the shipped rule packs: every rules/packs/PACK/tests/
 * NAME.eml (a whole mail, through the message model) or NAME.txt (plain
 * text) runs through the default pipeline, and the cleaned text must equal
 * NAME.expected byte for byte (a final line end on either side aside).
 * Every shipped pack must have golden tests. Run from the top of the tree.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/mime/message.h"
#include "engine/util/buf.h"
#include "rules/preprocess.h"
#include "tests/unit/test.h"

static struct preprocess *pp;

static char *slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct buf b;
	buf_init(&b, 1 << 24);
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	return buf_detach(&b, len_r);
}

static size_t trim_end(const char *s, size_t len)
{
	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	return len;
}

/* One golden case; prints PASS/FAIL pack/name. */
static void golden(const char *pack, const char *dir, const char *file)
{
	char in[600], exp[600];
	const char *dot = strrchr(file, '.');
	bool text = strcmp(dot, ".txt") == 0;
	snprintf(in, sizeof(in), "%s/%s", dir, file);
	snprintf(exp, sizeof(exp), "%s/%.*s.expected", dir, (int)(dot - file), file);
	size_t ilen = 0, elen = 0;
	char *raw = slurp(in, &ilen), *want = slurp(exp, &elen);
	struct arena *a = arena_new();
	struct message *m = NULL;
	struct mime_options mopt;
	struct preprocess_result res;
	struct err err = {0};

	test_failed_now = 0;
	if (!raw || !want) {
		fprintf(stderr, "  %s: cannot read %s\n", in, want ? in : exp);
		test_failed_now = 1;
		goto out;
	}
	mime_options_default(&mopt);
	if (text)
		m = preprocess_text_message(a, raw, ilen);
	else if (mime_parse(raw, ilen, &mopt, a, &m, &err) < 0) {
		fprintf(stderr, "  %s: %s\n", in, err.msg);
		test_failed_now = 1;
		goto out;
	}
	if (preprocess_run(pp, m, a, &res, &err) < 0) {
		fprintf(stderr, "  %s: %s\n", in, err.msg);
		test_failed_now = 1;
		goto out;
	}
	size_t gl = trim_end(res.text, res.len), wl = trim_end(want, elen);
	if (gl != wl || memcmp(res.text, want, gl) != 0) {
		fprintf(stderr, "  %s: got\n----\n%.*s\n----\nwant\n----\n%.*s\n----\n", in, (int)gl,
			res.text, (int)wl, want);
		for (size_t i = 0; i < res.nremoved; i++)
			fprintf(stderr, "  removed by %s/%s at %s:%u:%u: \"%.*s\"\n",
				res.removed[i].stage, res.removed[i].rule, res.removed[i].file,
				res.removed[i].line, res.removed[i].column,
				(int)(res.removed[i].len > 120 ? 120 : res.removed[i].len),
				res.removed[i].text);
		test_failed_now = 1;
	}
out:
	if (test_failed_now) {
		test_failed_total++;
		printf("FAIL golden %s/%s\n", pack, file);
	} else {
		test_passed_total++;
		printf("PASS golden %s/%s\n", pack, file);
	}
	fflush(stdout);
	arena_free(&a);
	free(raw);
	free(want);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every case of one pack; the number of cases. */
static int pack_cases(const char *pack)
{
	char dir[400];
	snprintf(dir, sizeof(dir), "rules/packs/%s/tests", pack);
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	char *names[512];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 512) {
		const char *dot = strrchr(e->d_name, '.');
		if (dot && (strcmp(dot, ".eml") == 0 || strcmp(dot, ".txt") == 0))
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), name_cmp);
	for (int i = 0; i < n; i++) {
		golden(pack, dir, names[i]);
		free(names[i]);
	}
	return n;
}

int main(void)
{
	struct err err = {0};
	mime_global_init();
	if (preprocess_default(&pp, &err) < 0) {
		fprintf(stderr, "  default pipeline: %s\n", err.msg);
		printf("FAIL default_pipeline\n");
		return 1;
	}
	/* no time budget: the outcome must not depend on the machine (valgrind) */
	struct preprocess_limits lim;
	preprocess_limits_default(&lim);
	lim.budget_us = 0;
	preprocess_set_limits(pp, &lim);
	for (size_t i = 0; i < preprocess_pack_count(); i++) {
		const char *pack = preprocess_pack_name(i);
		int n = pack_cases(pack);
		test_failed_now = n < 2;
		if (test_failed_now)
			fprintf(stderr, "  pack %s has %d golden tests (rules/packs/%s/tests), want >= 2\n",
				pack, n, pack);
		if (test_failed_now) {
			test_failed_total++;
			printf("FAIL pack_has_golden_tests %s\n", pack);
		} else {
			test_passed_total++;
			printf("PASS pack_has_golden_tests %s\n", pack);
		}
	}
	preprocess_free(&pp);
	regex_thread_release();
	mime_global_shutdown();
	return test_summary();
}
