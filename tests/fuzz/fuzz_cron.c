/*
 * libFuzzer target: cron expressions. The first byte picks a zone (UTC or
 * a POSIX rule with daylight time), the rest is the expression. Whatever
 * parses is described and asked for fire times, which must ascend, and (for
 * cron fields) the next time from just before a fire must be that fire.
 *   make build/fuzz/fuzz_cron && build/fuzz/fuzz_cron -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sched/cron.h"
#include "engine/sched/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const rules[] = {
	NULL,
	"CET-1CEST,M3.5.0,M10.5.0/3",
	"EST5EDT,M3.2.0,M11.1.0",
	"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
	"AAA0BBB-0:01,M3.5.0/1,M10.5.0/1",
	"AAA3BBB,M3.5.0/1,M10.5.0/1",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char expr[CRON_MAX_LEN + 64];
	struct cron *c = NULL;
	struct tz *tz = NULL;
	struct err err;
	size_t pos;
	if (size < 1)
		return 0;
	const char *rule = rules[data[0] % (sizeof(rules) / sizeof(rules[0]))];
	size = size - 1 > sizeof(expr) - 1 ? sizeof(expr) - 1 : size - 1;
	memcpy(expr, data + 1, size);
	expr[size] = '\0';
	if (cron_parse(expr, &c, &pos, &err) < 0) {
		if (pos > strlen(expr))
			abort();
		return 0;
	}
	if (rule && tz_parse_posix(rule, &tz, &err) < 0)
		abort();
	char words[CRON_DESCRIBE_MAX];
	cron_describe(c, words, sizeof(words));
	static const time_t starts[] = {0, 1774740000, 1792885000, 4102444800LL, 253402200000LL};
	for (size_t s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
		time_t t = starts[s], next;
		for (int i = 0; i < 6 && cron_next(c, tz, t, &next) == 0; i++) {
			time_t again;
			if (next <= t)
				abort();
			if (cron_kind(c) == CRON_FIELDS &&
			    (cron_next(c, tz, next - 1, &again) != 0 || again != next))
				abort();
			t = next;
		}
	}
	tz_free(&tz);
	cron_free(&c);
	return 0;
}
