/*
 * Minimal unit test harness. Each tests/unit/test_*.c is one binary:
 *
 *   TEST(parses_size) { CHECK(x == 1); CHECK_STR(a, "b"); }
 *   int main(void) { RUN(parses_size); return test_summary(); }
 *
 * Every test prints "PASS name" or "FAIL name"; tests/run-tests.sh counts
 * those lines across all binaries. A failing CHECK reports file:line and
 * lets the test go on, so one run shows every broken expectation.
 */
#ifndef M2T_TEST_H
#define M2T_TEST_H

#include <stdio.h>
#include <string.h>

static int test_failed_now;
static int test_passed_total;
static int test_failed_total;

#define TEST(name) static void name(void)

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n",         \
				__FILE__, __LINE__, #cond);                    \
			test_failed_now = 1;                                   \
		}                                                              \
	} while (0)

#define CHECK_STR(got, want)                                                   \
	do {                                                                   \
		const char *g_ = (got), *w_ = (want);                          \
		if (!g_ || !w_ || strcmp(g_, w_) != 0) {                       \
			fprintf(stderr, "  %s:%d: got \"%s\", want \"%s\"\n",  \
				__FILE__, __LINE__, g_ ? g_ : "(null)",        \
				w_ ? w_ : "(null)");                           \
			test_failed_now = 1;                                   \
		}                                                              \
	} while (0)

#define CHECK_INT(got, want)                                                   \
	do {                                                                   \
		long long g_ = (long long)(got), w_ = (long long)(want);       \
		if (g_ != w_) {                                                \
			fprintf(stderr, "  %s:%d: %s = %lld, want %lld\n",     \
				__FILE__, __LINE__, #got, g_, w_);             \
			test_failed_now = 1;                                   \
		}                                                              \
	} while (0)

#define RUN(name)                                                              \
	do {                                                                   \
		test_failed_now = 0;                                           \
		name();                                                        \
		if (test_failed_now) {                                         \
			test_failed_total++;                                   \
			printf("FAIL %s\n", #name);                            \
		} else {                                                       \
			test_passed_total++;                                   \
			printf("PASS %s\n", #name);                            \
		}                                                              \
		fflush(stdout);                                                \
	} while (0)

static inline int test_summary(void)
{
	fprintf(stderr, "%d passed, %d failed\n", test_passed_total, test_failed_total);
	return test_failed_total ? 1 : 0;
}

#endif
