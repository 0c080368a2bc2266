#include "engine/util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int err_set(struct err *e, enum err_class cls, const char *fmt, ...)
{
	if (!e)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	e->cls = cls;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int err_prefix(struct err *e, const char *fmt, ...)
{
	if (!e)
		return -1;
	char prefix[256];
	char old[sizeof(e->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	/* composed by hand: the result is cut at sizeof(msg), by design */
	size_t plen = strnlen(prefix, sizeof(e->msg) - 1);
	memcpy(e->msg, prefix, plen);
	size_t pos = plen;
	const char *sep = ": ";
	for (size_t i = 0; sep[i] && pos < sizeof(e->msg) - 1; i++)
		e->msg[pos++] = sep[i];
	size_t olen = strnlen(old, sizeof(old));
	if (olen > sizeof(e->msg) - 1 - pos)
		olen = sizeof(e->msg) - 1 - pos;
	memcpy(e->msg + pos, old, olen);
	e->msg[pos + olen] = '\0';
	return -1;
}

void err_clear(struct err *e)
{
	if (!e)
		return;
	e->cls = ERR_NONE;
	e->msg[0] = '\0';
}

const char *err_class_name(enum err_class cls)
{
	switch (cls) {
	case ERR_NONE: return "none";
	case ERR_TRANSIENT: return "transient";
	case ERR_MESSAGE: return "message";
	case ERR_SOURCE: return "source";
	case ERR_FATAL: return "fatal";
	}
	return "unknown";
}
