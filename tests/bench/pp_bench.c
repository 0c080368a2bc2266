/*
 * pp_bench — speed of the default preprocessing pipeline.
 *
 *   pp_bench [--text] --repeat N FILE...   per file: median, min and max ms of N runs
 *   pp_bench [--text] --seconds S FILE...  all files round-robin for S seconds of CPU
 *                                          on one thread: mails/s of the pipeline alone
 *                                          and of parse + pipeline
 *
 * Times are this thread's CPU time, so a busy machine does not skew them.
 *
 * Files are mail (.eml, parsed by the message model) unless --text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/mime/message.h"
#include "engine/util/buf.h"
#include "rules/preprocess.h"
#include "tests/bench/bench_util.h"

static char *load(const char *path, size_t *len_r)
{
	char *d = bench_read_file(path, len_r);
	if (!d) {
		fprintf(stderr, "pp_bench: cannot open %s\n", path);
		exit(1);
	}
	return d;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static struct message *message_of(struct arena *a, const char *raw, size_t len, bool text)
{
	struct mime_options mopt;
	struct message *m = NULL;
	struct err err = {0};
	if (text)
		return preprocess_text_message(a, raw, len);
	mime_options_default(&mopt);
	if (mime_parse(raw, len, &mopt, a, &m, &err) < 0)
		return NULL;
	return m;
}

static int repeat_files(struct preprocess *pp, char **files, int n, int reps, bool text)
{
	double *t = calloc((size_t)reps, sizeof(double));
	for (int i = 0; i < n; i++) {
		size_t len;
		char *raw = load(files[i], &len);
		const char *name = strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i];
		struct arena *a = arena_new();
		struct preprocess_result res;
		struct err err = {0};
		for (int r = 0; r < reps; r++) {
			arena_reset(a);
			struct message *m = message_of(a, raw, len, text);
			double t0 = bench_cpu_s();
			if (!m || preprocess_run(pp, m, a, &res, &err) < 0) {
				printf("  %s: error: %s\n", name, err.msg);
				break;
			}
			t[r] = (bench_cpu_s() - t0) * 1000.0;
		}
		qsort(t, (size_t)reps, sizeof(double), cmp_double);
		printf("  %-28s %8zu bytes  median %.3f ms  (min %.3f, max %.3f)\n", name, len,
		       t[reps / 2], t[0], t[reps - 1]);
		arena_free(&a);
		free(raw);
	}
	free(t);
	return 0;
}

static int throughput(struct preprocess *pp, char **files, int n, double seconds, bool text)
{
	char **raw = calloc((size_t)n, sizeof(char *));
	size_t *len = calloc((size_t)n, sizeof(size_t));
	size_t bytes = 0;
	for (int i = 0; i < n; i++) {
		raw[i] = load(files[i], &len[i]);
		bytes += len[i];
	}
	struct arena *a = arena_new();
	struct preprocess_result res;
	struct err err = {0};
	double pp_time = 0, start = bench_cpu_s();
	unsigned long done = 0, errors = 0, removed = 0;
	while (bench_cpu_s() - start < seconds) {
		for (int i = 0; i < n; i++) {
			arena_reset(a);
			struct message *m = message_of(a, raw[i], len[i], text);
			if (!m) {
				errors++;
				continue;
			}
			double t0 = bench_cpu_s();
			if (preprocess_run(pp, m, a, &res, &err) < 0)
				errors++;
			else
				removed += res.nremoved;
			pp_time += bench_cpu_s() - t0;
			done++;
		}
	}
	double total = bench_cpu_s() - start;
	printf("  %d mails (%.1f KB average), %lu runs, %lu errors, %.1f removals per mail\n", n,
	       (double)bytes / n / 1024.0, done, errors, done ? (double)removed / done : 0.0);
	printf("  pipeline alone:       %8.0f mails/s per core  (%.1f µs per mail)\n",
	       done / pp_time, pp_time * 1e6 / done);
	if (!text)
		printf("  parse + pipeline:     %8.0f mails/s per core  (%.1f µs per mail)\n",
		       done / total, total * 1e6 / done);
	arena_free(&a);
	for (int i = 0; i < n; i++)
		free(raw[i]);
	free(raw);
	free(len);
	return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	bool text = false;
	int reps = 0;
	double seconds = 0;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--text") == 0)
			text = true;
		else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
			reps = (int)strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = strtod(argv[++i], NULL);
		else
			break;
	}
	if (i >= argc || (reps <= 0 && seconds <= 0)) {
		fprintf(stderr, "usage: pp_bench [--text] (--repeat N | --seconds S) FILE...\n");
		return 2;
	}
	struct preprocess *pp = NULL;
	struct err err = {0};
	mime_global_init();
	if (preprocess_default(&pp, &err) < 0) {
		fprintf(stderr, "pp_bench: %s\n", err.msg);
		return 1;
	}
	int rc = reps > 0 ? repeat_files(pp, argv + i, argc - i, reps, text)
			  : throughput(pp, argv + i, argc - i, seconds, text);
	preprocess_free(&pp);
	mime_global_shutdown();
	return rc;
}
