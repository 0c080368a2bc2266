/*
 * mime_bench: the message model's cost per mail. Parses each file given
 * (e.g. tests/mail/ *.eml) ROUNDS times and prints microseconds per mail,
 * per file and overall, and mails per second on one core.
 *   make tools && build/rel/tools/mime_bench tests/mail/ *.eml
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/mime/message.h"
#include "engine/util/buf.h"
#include "tests/bench/bench_util.h"

#define ROUNDS 2000

int main(int argc, char **argv)
{
	struct mime_options opt;
	double total = 0;
	long mails = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: mime_bench FILE.eml...\n");
		return 64;
	}
	mime_global_init();
	mime_options_default(&opt);
	struct arena *a = arena_new();
	for (int i = 1; i < argc; i++) {
		size_t len;
		char *raw = bench_read_file(argv[i], &len);
		if (!raw) {
			fprintf(stderr, "mime_bench: cannot read %s\n", argv[i]);
			continue;
		}
		double t0 = bench_wall_s();
		int bad = 0;
		for (int r = 0; r < ROUNDS; r++) {
			struct message *m;
			struct err err;
			if (mime_parse(raw, len, &opt, a, &m, &err) < 0)
				bad = 1;
			arena_reset(a);
		}
		double dt = bench_wall_s() - t0;
		printf("%8.1f us  %7zu bytes  %s%s\n", dt / ROUNDS * 1e6, len, argv[i],
		       bad ? "  (refused)" : "");
		total += dt;
		mails += ROUNDS;
		free(raw);
	}
	arena_free(&a);
	if (mails)
		printf("overall: %.1f us per mail, %.0f mails/s on one core (%ld parses)\n",
		       total / (double)mails * 1e6, (double)mails / total, mails);
	mime_global_shutdown();
	return 0;
}
