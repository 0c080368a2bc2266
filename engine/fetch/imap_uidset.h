/*
 * UID sets for IMAP commands: sorted, de-duplicated and written as compact
 * ranges ("1:5,7,9:12") so a batch of UIDs costs a short command line.
 */
#ifndef M2T_IMAP_UIDSET_H
#define M2T_IMAP_UIDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/util/buf.h"

/* Sorts v ascending, drops duplicates and 0 (not a UID). Returns the new count. */
size_t imap_uids_sort_unique(uint32_t *v, size_t n);

/* Appends v[0..n) (ascending, unique) to out as ranges. -1 when out is full. */
int imap_uidset_format(struct buf *out, const uint32_t *v, size_t n);

/* true when uid is in v[0..n) (ascending); its index goes to *idx_r (may be NULL). */
bool imap_uids_find(const uint32_t *v, size_t n, uint32_t uid, size_t *idx_r);

#endif
