/* Private to the report writers (report*.c). */
#ifndef M2T_REPORT_INT_H
#define M2T_REPORT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/cli/report.h"

/* One line of the terminal report's closing table (copies, cleaned). */
struct report_row {
	size_t index;
	char id[48];
	char outcome[16];
	char ticket[40];
	char from[48];
	char subject[64];
};

struct report {
	enum report_format fmt;
	FILE *out;
	bool colour;
	char *job;
	size_t nmsgs;
	struct report_row *rows;
	size_t nrows, caprows;
};

/* The outcome a message would get, as the table and JSON name it. */
const char *report_outcome(const struct job_test_msg *m);
/* Control characters (C0, DEL, C1) become ?, cut at a UTF-8 boundary
 * to at most outlen-1 bytes. Returns out. */
const char *report_clean(const char *s, size_t len, char *out, size_t outlen);

void report_text_message(struct report *r, const struct job_test_msg *m);
void report_text_finish(struct report *r, const struct job_test_summary *s, const char *error);
void report_json_begin(struct report *r);
void report_json_message(struct report *r, const struct job_test_msg *m);
void report_json_finish(struct report *r, const struct job_test_summary *s, const char *error);
void report_html_begin(struct report *r);
void report_html_message(struct report *r, const struct job_test_msg *m);
void report_html_finish(struct report *r, const struct job_test_summary *s, const char *error);

#endif
