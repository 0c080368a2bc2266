/*
 * The trace of one message through the rules (DESIGN.md, "A job test run
 * shows"): the flags loop protection saw, the follow-up references found,
 * each field extracted, each statement tried (which branch matched, the
 * captures), and the plan. Plain data, allocated in the message's arena;
 * names and positions are borrowed from the compiled rules, so a trace
 * lives as long as both.
 *
 * Text from the mail in a trace (captures, field values) is cut to
 * TRACE_TEXT_MAX bytes; printing cleans it for a terminal.
 */
#ifndef M2T_TRACE_H
#define M2T_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/util/buf.h"
#include "rules/plan.h"

#define TRACE_TEXT_MAX 200

struct trace_capture {
	const char *name;
	const char *value;      /* cut to TRACE_TEXT_MAX */
};

struct trace_stmt {
	const char *name;
	const char *file;
	unsigned line, column;
	int branch;             /* -1: none matched; 0: if; 1..: else if; last: else */
	const char *branch_label;
	struct trace_capture *caps;
	size_t ncaps, capcaps;
	bool stopped;           /* a `stop` ran here */
};

struct trace_field {
	const char *name;
	const char *value;      /* NULL: not found and no default */
	bool defaulted;
	const char *note;       /* why the match was not used ("not an integer") */
};

struct trace {
	const char *flags;      /* "auto_reply (Auto-Submitted: auto-replied), bulk" or "" */
	const char **refs;      /* follow-up references found, "number 2026...", ... */
	size_t nrefs;
	struct trace_field *fields;
	size_t nfields;
	struct trace_stmt *stmts;   /* the statements tried, in order */
	size_t nstmts;
	bool stopped;
	const char *loop;       /* what loop protection changed, NULL when nothing */
	const struct plan *plan;
	uint64_t elapsed_us;
};

/* Human-readable, one item a line, indented by two spaces. */
void trace_print(const struct trace *tr, FILE *out);
/* The trace as a JSON object. */
void trace_json(const struct trace *tr, struct buf *out);

#endif
