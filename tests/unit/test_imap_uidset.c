/* UID sets: sorting, de-duplication and compact ranges. */
#include <stdint.h>
#include <stdlib.h>

#include "engine/fetch/imap_uidset.h"
#include "tests/unit/test.h"

static void check_set(uint32_t *v, size_t n, const char *want)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	n = imap_uids_sort_unique(v, n);
	CHECK(imap_uidset_format(&b, v, n) == 0);
	CHECK_STR(buf_str(&b), want);
	buf_release(&b);
}

TEST(ranges)
{
	uint32_t a[] = {1, 2, 3, 4, 5, 7, 9, 10, 11, 12};
	check_set(a, 10, "1:5,7,9:12");
	uint32_t b[] = {12, 9, 7, 5, 4, 3, 2, 1, 11, 10, 7, 7, 0};
	check_set(b, 13, "1:5,7,9:12");
	uint32_t c[] = {42};
	check_set(c, 1, "42");
	check_set(c, 0, "");
	uint32_t d[] = {4294967295u, 4294967294u, 1};
	check_set(d, 3, "1,4294967294:4294967295");
	uint32_t e[] = {0, 0};
	check_set(e, 2, "");
}

TEST(find)
{
	uint32_t v[] = {1, 3, 5, 9};
	size_t idx = 99;
	CHECK(imap_uids_find(v, 4, 9, &idx) && idx == 3);
	CHECK(imap_uids_find(v, 4, 1, &idx) && idx == 0);
	CHECK(!imap_uids_find(v, 4, 4, NULL));
	CHECK(!imap_uids_find(v, 4, 10, NULL));
	CHECK(!imap_uids_find(v, 0, 1, NULL));
}

TEST(cap_respected)
{
	struct buf b;
	buf_init(&b, 8);
	uint32_t v[] = {1, 3, 5, 7, 9, 11};
	CHECK(imap_uidset_format(&b, v, 6) < 0);
	buf_release(&b);
}

TEST(large_sorted)
{
	size_t n = 100000;
	uint32_t *v = malloc(n * sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = (uint32_t)(n - i) * 2;   /* even numbers, reversed */
	n = imap_uids_sort_unique(v, n);
	CHECK_INT(n, 100000);
	CHECK_INT(v[0], 2);
	CHECK_INT(v[n - 1], 200000);
	free(v);
}

int main(void)
{
	RUN(ranges);
	RUN(find);
	RUN(cap_respected);
	RUN(large_sorted);
	return test_summary();
}
