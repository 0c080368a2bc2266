/*
 * Bump allocator for everything that lives exactly as long as one message
 * (STYLE.md, habit 5): parse results, decoded strings, plans. Freed at once.
 */
#ifndef M2T_ARENA_H
#define M2T_ARENA_H

#include <stddef.h>

struct arena;

struct arena *arena_new(void);
/* Frees every allocation and the arena; sets *a to NULL. */
void arena_free(struct arena **a);
/* Frees every allocation but keeps the first block for reuse. */
void arena_reset(struct arena *a);
/* Zeroed, aligned for any type. Never NULL. */
void *arena_alloc(struct arena *a, size_t size);
char *arena_strdup(struct arena *a, const char *s);
/* Copies len bytes and adds a NUL. */
char *arena_memdup0(struct arena *a, const void *p, size_t len);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Bytes handed out since the last reset (for limits and benchmarks). */
size_t arena_used(const struct arena *a);

#endif
