/*
 * The report of a job test run (engine/job/job_test.h), written while the
 * test runs, one message at a time: a readable terminal report with a
 * table at the end, JSON (schema in README.md, "Test runs"), or one
 * self-contained HTML page. Several reports may be written at once (the
 * terminal and an HTML file).
 *
 * SECURITY: everything from the mail is untrusted. The terminal report
 * cleans control characters (no escape sequences reach the terminal), JSON
 * escapes per RFC 8259, and the HTML page escapes every character that
 * means something in HTML and forbids scripts by its Content-Security-Policy.
 */
#ifndef M2T_REPORT_H
#define M2T_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "engine/job/job_test.h"

enum report_format {
	REPORT_TEXT,
	REPORT_JSON,
	REPORT_HTML,
};

struct report;

/* out is borrowed (the caller closes it); job is the job's name, copied. */
struct report *report_new(enum report_format fmt, FILE *out, bool colour, const char *job);
void report_message(struct report *r, const struct job_test_msg *m);
/* The summary; error: why the test stopped early, NULL when it did not. */
void report_finish(struct report *r, const struct job_test_summary *s, const char *error);
void report_free(struct report **r);

#endif
