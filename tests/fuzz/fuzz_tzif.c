/*
 * libFuzzer target: TZif files (and, when short, the same bytes as a POSIX
 * TZ rule). A zone that loads must give spans that contain the time asked
 * about, print and read back ISO times, and let schedules find fire times
 * that ascend.
 *   make build/fuzz/fuzz_tzif && build/fuzz/fuzz_tzif -max_total_time=60
 * Seed it with real zones: mkdir c && cp /usr/share/zoneinfo/Europe/Berlin c/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sched/cron.h"
#include "engine/sched/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const struct tz *tz)
{
	static const char *const exprs[] = {"30 2 * * *", "*/15 * * * *", "0 0 29 2 *"};
	for (time_t t = -62135596800LL; t < 253402300799LL; t += 123456789LL * 3) {
		struct tz_span s;
		tz_span(tz, t, &s);
		if (s.start > t || s.end <= t)
			abort();
		char iso[TZ_ISO_MAX];
		time_t back;
		if (tz_format_iso(tz, t, iso, sizeof(iso)) == 0) {
			struct err err;
			(void)tz_parse_iso(tz, iso, &back, &err);
		}
		(void)tz_from_local(tz, t, &back);
	}
	for (size_t e = 0; e < sizeof(exprs) / sizeof(exprs[0]); e++) {
		struct cron *c = NULL;
		struct err err;
		if (cron_parse(exprs[e], &c, NULL, &err) < 0)
			abort();
		time_t t = 1767225600, next;
		for (int i = 0; i < 8 && cron_next(c, tz, t, &next) == 0; i++) {
			if (next <= t)
				abort();
			t = next;
		}
		cron_free(&c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tz *tz = NULL;
	struct err err;
	if (tz_parse_tzif(data, size, "fuzz", &tz, &err) == 0) {
		exercise(tz);
		tz_free(&tz);
	}
	if (size <= TZ_RULE_MAX) {
		char rule[TZ_RULE_MAX + 1];
		memcpy(rule, data, size);
		rule[size] = '\0';
		if (tz_parse_posix(rule, &tz, &err) == 0) {
			exercise(tz);
			tz_free(&tz);
		}
	}
	return 0;
}
