/* A growable list of IMAP UIDs. */
#ifndef M2T_UID_LIST_H
#define M2T_UID_LIST_H

#include <stddef.h>
#include <stdint.h>

struct uid_list {
	uint32_t *v;
	size_t n;
	size_t cap;
};

void uid_list_push(struct uid_list *l, uint32_t uid);
void uid_list_clear(struct uid_list *l);
void uid_list_release(struct uid_list *l);

#endif
