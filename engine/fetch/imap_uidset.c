#include "engine/fetch/imap_uidset.h"

#include <stdlib.h>

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

size_t imap_uids_sort_unique(uint32_t *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u32);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] == 0 || (o && v[o - 1] == v[i]))
			continue;
		v[o++] = v[i];
	}
	return o;
}

int imap_uidset_format(struct buf *out, const uint32_t *v, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		/* v[j] < UINT32_MAX is implied by v[j + 1] > v[j] */
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (i && buf_addc(out, ',') < 0)
			return -1;
		if (j == i) {
			if (buf_addf(out, "%u", (unsigned)v[i]) < 0)
				return -1;
		} else if (buf_addf(out, "%u:%u", (unsigned)v[i], (unsigned)v[j]) < 0) {
			return -1;
		}
		i = j + 1;
	}
	return out->failed ? -1 : 0;
}

bool imap_uids_find(const uint32_t *v, size_t n, uint32_t uid, size_t *idx_r)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid] == uid) {
			if (idx_r)
				*idx_r = mid;
			return true;
		}
		if (v[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}
