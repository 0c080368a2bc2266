#include "engine/job/uid_list.h"

#include <stdlib.h>

#include "engine/util/xalloc.h"

void uid_list_push(struct uid_list *l, uint32_t uid)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n++] = uid;
}

void uid_list_clear(struct uid_list *l)
{
	l->n = 0;
}

void uid_list_release(struct uid_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}
