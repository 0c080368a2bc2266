/*
 * rules_cpu — what deciding costs per mail, without the network and the
 * database around it: every mail of a Maildir (new/ and cur/) is parsed
 * (not timed), then decided with the built-in default (follow-up detection
 * and loop protection only) and with a rule file, each several times; the
 * fastest round of each is printed, in microseconds of this thread's CPU
 * time per mail (a busy machine does not skew it).
 *
 *   rules_cpu DIR RULES.yaml [ROUNDS]
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/mime/message.h"
#include "engine/util/arena.h"
#include "engine/util/str.h"
#include "engine/util/xalloc.h"
#include "rules/decide.h"
#include "rules/policy.h"
#include "rules/ruleset.h"
#include "rules/regex.h"
#include "tests/bench/bench_util.h"

#define MAX_MAILS 200000

/* The fastest of `rounds` passes over every mail, in seconds. */
static double pass(const struct rules_env *env, struct message **msgs, size_t n,
		   unsigned rounds, struct arena *scratch)
{
	double best = 1e9;
	for (unsigned r = 0; r < rounds; r++) {
		double t0 = bench_cpu_s();
		for (size_t i = 0; i < n; i++) {
			struct plan plan;
			struct err err;
			arena_reset(scratch);
			if (rules_decide(env, msgs[i], NULL, scratch, &plan, NULL, &err) < 0)
				fprintf(stderr, "rules_cpu: %s\n", err.msg);
		}
		double dt = bench_cpu_s() - t0;
		if (dt < best)
			best = dt;
	}
	return best;
}

int main(int argc, char **argv)
{
	uint64_t rounds = 3;
	if (argc < 3 || (argc > 3 && str_parse_u64(argv[3], strlen(argv[3]), 100, &rounds) < 0) ||
	    rounds == 0) {
		fprintf(stderr, "usage: rules_cpu DIR RULES.yaml [ROUNDS]\n");
		return 64;
	}
	struct ruleset *rs = NULL;
	struct err err = {0};
	const char *paths[] = {argv[2]};
	if (ruleset_load(paths, 1, &rs, &err) < 0) {
		fprintf(stderr, "rules_cpu: %s\n", err.msg);
		return 78;
	}
	mime_global_init();
	struct mime_options opt;
	mime_options_default(&opt);
	struct message **msgs = xcalloc(MAX_MAILS, sizeof(*msgs));
	struct arena **arenas = xcalloc(MAX_MAILS, sizeof(*arenas));
	size_t n = 0;
	static const char *const subdirs[] = {"new", "cur"};
	for (size_t s = 0; s < 2; s++) {
		char sub[4096];
		snprintf(sub, sizeof(sub), "%s/%s", argv[1], subdirs[s]);
		DIR *d = opendir(sub);
		if (!d)
			continue;
		struct dirent *e;
		while ((e = readdir(d)) != NULL && n < MAX_MAILS) {
			if (e->d_name[0] == '.')
				continue;
			char path[8192];
			size_t len;
			snprintf(path, sizeof(path), "%s/%s", sub, e->d_name);
			char *raw = bench_read_file(path, &len);
			if (!raw)
				continue;
			arenas[n] = arena_new();
			if (mime_parse(raw, len, &opt, arenas[n], &msgs[n], &err) == 0)
				n++;
			else
				arena_free(&arenas[n]);
			free(raw);
		}
		closedir(d);
	}
	if (n == 0) {
		fprintf(stderr, "rules_cpu: no mail in %s/new or %s/cur\n", argv[1], argv[1]);
		return 66;
	}

	struct policy pol;
	policy_init(&pol);
	policy_add_own_address(&pol, "support@example.com");
	struct arena *scratch = arena_new();
	struct rules_env none = {.policy = &pol, .account = "support", .job = "bench"};
	struct rules_env with = none;
	with.rules = rs;
	double t_none = pass(&none, msgs, n, (unsigned)rounds, scratch);
	double t_with = pass(&with, msgs, n, (unsigned)rounds, scratch);
	printf("%zu mails: decide %.1f us per mail without rules, %.1f us with %zu statements "
	       "(%.1f us for the statements, %.2f us each)\n", n, t_none / (double)n * 1e6,
	       t_with / (double)n * 1e6, ruleset_statement_count(rs),
	       (t_with - t_none) / (double)n * 1e6,
	       (t_with - t_none) / (double)n * 1e6 / (double)ruleset_statement_count(rs));
	for (size_t i = 0; i < n; i++)
		arena_free(&arenas[i]);
	free(arenas);
	free(msgs);
	arena_free(&scratch);
	regex_thread_release();
	policy_release(&pol);
	ruleset_free(&rs);
	mime_global_shutdown();
	return 0;
}
