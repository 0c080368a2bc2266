/*
 * Allocation that never returns NULL: running out of memory is fatal and
 * ends the process through one path (STYLE.md, habit 5).
 */
#ifndef M2T_XALLOC_H
#define M2T_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
/* Overflow-checked nmemb * size. */
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Copy of len bytes plus a terminating NUL. */
char *xmemdup0(const void *p, size_t len);
/* printf into a fresh allocation; caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
