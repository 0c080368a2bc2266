/* The report of a job test run: the formats' common part and dispatch. */
#include "engine/cli/report.h"

#include <stdlib.h>
#include <string.h>

#include "engine/cli/report_int.h"
#include "engine/util/xalloc.h"

const char *report_outcome(const struct job_test_msg *m)
{
	if (m->item->already_done)
		return "already_done";
	return outcome_name(m->item->done_outcome);
}

const char *report_clean(const char *s, size_t len, char *out, size_t outlen)
{
	size_t o = 0;
	if (outlen == 0)
		return out;
	for (size_t i = 0; s && i < len && o + 1 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];
		/* C0 controls, DEL and the C1 controls (U+0080..U+009F, where
		 * U+009B is a CSI to some terminals) never reach the terminal */
		if (c < 0x20 || c == 0x7f) {
			out[o++] = '?';
		} else if (c == 0xC2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
			   (unsigned char)s[i + 1] <= 0x9F) {
			out[o++] = '?';
			i++;
		} else {
			out[o++] = (char)c;
		}
	}
	/* cut by bytes: never leave half a character behind */
	size_t k = o;
	while (k > 0 && ((unsigned char)out[k - 1] & 0xC0) == 0x80)
		k--;
	if (k > 0 && ((unsigned char)out[k - 1] & 0x80)) {
		unsigned char lead = (unsigned char)out[k - 1];
		size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
		if (o - (k - 1) < want)
			o = k - 1;
	}
	out[o] = '\0';
	return out;
}

struct report *report_new(enum report_format fmt, FILE *out, bool colour, const char *job)
{
	struct report *r = xcalloc(1, sizeof(*r));
	r->fmt = fmt;
	r->out = out;
	r->colour = colour && fmt == REPORT_TEXT;
	r->job = xstrdup(job);
	if (fmt == REPORT_JSON)
		report_json_begin(r);
	else if (fmt == REPORT_HTML)
		report_html_begin(r);
	return r;
}

void report_message(struct report *r, const struct job_test_msg *m)
{
	switch (r->fmt) {
	case REPORT_TEXT: report_text_message(r, m); break;
	case REPORT_JSON: report_json_message(r, m); break;
	case REPORT_HTML: report_html_message(r, m); break;
	}
	r->nmsgs++;
	fflush(r->out);
}

void report_finish(struct report *r, const struct job_test_summary *s, const char *error)
{
	switch (r->fmt) {
	case REPORT_TEXT: report_text_finish(r, s, error); break;
	case REPORT_JSON: report_json_finish(r, s, error); break;
	case REPORT_HTML: report_html_finish(r, s, error); break;
	}
	fflush(r->out);
}

void report_free(struct report **rp)
{
	struct report *r = *rp;
	if (!r)
		return;
	free(r->job);
	free(r->rows);
	free(r);
	*rp = NULL;
}
