/*
 * Errors that say how far a failure reaches (DESIGN.md, decision 2):
 *   ERR_TRANSIENT  network, database, timeout: leave the message, retry later
 *   ERR_MESSAGE    this message only (unparseable, over a limit): badmail + reason
 *   ERR_SOURCE     login or folder broken: this job stops, others go on
 *   ERR_FATAL      bad configuration or a bug: refuse to go on
 * Functions that can fail return int (0 ok, <0 error) and fill a struct err.
 */
#ifndef M2T_ERR_H
#define M2T_ERR_H

#include <stddef.h>

enum err_class {
	ERR_NONE = 0,
	ERR_TRANSIENT,
	ERR_MESSAGE,
	ERR_SOURCE,
	ERR_FATAL,
};

struct err {
	enum err_class cls;
	char msg[512];
};

/* Sets class and message; always returns -1 so callers can `return err_set(...)`. */
int err_set(struct err *e, enum err_class cls, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefixes the existing message with "prefix: "; keeps the class. Returns -1. */
int err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void err_clear(struct err *e);
const char *err_class_name(enum err_class cls);

#endif
