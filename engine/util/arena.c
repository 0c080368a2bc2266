#include "engine/util/arena.h"

#include <stdarg.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/xalloc.h"

#define ARENA_BLOCK 16384

struct arena_block {
	struct arena_block *next;
	size_t size;
	size_t used;
	alignas(max_align_t) unsigned char data[];
};

struct arena {
	struct arena_block *head;
	size_t total;
};

static struct arena_block *block_new(size_t size)
{
	struct arena_block *b = xmalloc(sizeof(*b) + size);
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

struct arena *arena_new(void)
{
	struct arena *a = xcalloc(1, sizeof(*a));
	a->head = block_new(ARENA_BLOCK);
	return a;
}

void arena_free(struct arena **ap)
{
	if (!ap || !*ap)
		return;
	struct arena_block *b = (*ap)->head;
	while (b) {
		struct arena_block *next = b->next;
		free(b);
		b = next;
	}
	free(*ap);
	*ap = NULL;
}

void arena_reset(struct arena *a)
{
	struct arena_block *b = a->head;
	/* keep the last block in the chain: it is the first one allocated */
	while (b && b->next) {
		struct arena_block *next = b->next;
		free(b);
		b = next;
	}
	a->head = b;
	if (b)
		b->used = 0;
	a->total = 0;
}

void *arena_alloc(struct arena *a, size_t size)
{
	const size_t align = alignof(max_align_t);
	if (size > SIZE_MAX - align)
		size = SIZE_MAX - align; /* let block_new fail loudly */
	size = (size + align - 1) & ~(align - 1);
	if (size == 0)
		size = align;
	struct arena_block *b = a->head;
	if (!b || b->size - b->used < size) {
		size_t bs = size > ARENA_BLOCK ? size : ARENA_BLOCK;
		b = block_new(bs);
		b->next = a->head;
		a->head = b;
	}
	void *p = b->data + b->used;
	b->used += size;
	a->total += size;
	memset(p, 0, size);
	return p;
}

char *arena_memdup0(struct arena *a, const void *p, size_t len)
{
	char *s = arena_alloc(a, len + 1);
	if (len)
		memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_memdup0(a, s, strlen(s));
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return arena_strdup(a, "");
	if ((size_t)n < sizeof(small))
		return arena_memdup0(a, small, (size_t)n);
	char *s = arena_alloc(a, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

size_t arena_used(const struct arena *a)
{
	return a->total;
}
