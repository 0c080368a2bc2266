/*
 * Small string helpers: overflow-checked number parsing (no atoi), sizes
 * with units, durations with units, case-insensitive compares.
 */
#ifndef M2T_STR_H
#define M2T_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length-carrying view into someone else's bytes; not NUL-terminated. */
struct slice {
	const char *p;
	size_t len;
};

/* Parses all of s[0..len) as a decimal number <= max. 0 ok, -1 otherwise. */
int str_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out_r);
/* "25MB", "512k", "1GiB", "100" (bytes). Units: B K KB KiB M MB MiB G GB GiB,
 * case-insensitive, powers of 1024. 0 ok, -1 on bad syntax or overflow. */
int str_parse_size(const char *s, uint64_t *bytes_r);
/* "30s", "500ms", "2m", "1h", "45" (seconds). Result in milliseconds. */
int str_parse_duration_ms(const char *s, uint64_t *ms_r);
bool str_ieq(const char *a, const char *b);
bool str_has_prefix(const char *s, const char *prefix);
bool str_has_iprefix(const char *s, const char *prefix);
bool slice_ieq(struct slice s, const char *lit);
/*
 * Terminal columns UTF-8 text takes: East Asian wide characters count two,
 * combining marks none, everything else one (invalid bytes one each).
 */
size_t str_display_width(const char *s);
/* Shortest exact form of a duration: "2h", "30s", "1500ms". Returns out. */
const char *str_fmt_duration_ms(uint64_t ms, char *out, size_t outlen);
/* Human form of a byte count ("25 MB"), written into out. */
const char *str_fmt_size(uint64_t bytes, char *out, size_t outlen);
/* The directory part of a path ("." without a slash, "/" for "/x"); the
 * caller free()s it. */
char *str_dirname(const char *path);

#endif
