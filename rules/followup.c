/*
 * Follow-up references (see followup.h).
 *
 * SECURITY: everything read here is mail text: header values are scanned
 * with caps on the number of ids and their length, patterns run under
 * rules/regex.h's limits. Nothing here decides on its own that a mail belongs to a
 * ticket: the store checks each reference and the sender (participants).
 */
#include "rules/followup.h"

#include <string.h>

#include "rules/rules_int.h"

#define MSGID_MAX 250

static bool space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void add_id(struct followup_info *fi, struct arena *a, const char *s, size_t len)
{
	if (len == 0 || len > MSGID_MAX || fi->nmsgids >= FOLLOWUP_MAX_IDS)
		return;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == '<' || s[i] == '>')
			return;
	for (size_t i = 0; i < fi->nmsgids; i++)
		if (strlen(fi->msgids[i]) == len && memcmp(fi->msgids[i], s, len) == 0)
			return;
	fi->msgids[fi->nmsgids++] = arena_memdup0(a, s, len);
}

/* References: "<a@x> <b@y>": the newest (last) first. */
static void add_references(struct followup_info *fi, struct arena *a, const char *refs)
{
	const char *starts[FOLLOWUP_MAX_IDS * 4];
	size_t lens[FOLLOWUP_MAX_IDS * 4];
	size_t n = 0, cap = sizeof(starts) / sizeof(starts[0]);
	for (const char *p = refs; *p;) {
		const char *lt = strchr(p, '<');
		if (!lt)
			break;
		const char *gt = strchr(lt + 1, '>');
		if (!gt)
			break;
		/* keep the last `cap` ids: a long thread's newest ones matter */
		if (n == cap) {
			memmove(starts, starts + 1, (cap - 1) * sizeof(*starts));
			memmove(lens, lens + 1, (cap - 1) * sizeof(*lens));
			n--;
		}
		starts[n] = lt + 1;
		lens[n] = (size_t)(gt - lt - 1);
		n++;
		p = gt + 1;
	}
	while (n-- > 0)
		add_id(fi, a, starts[n], lens[n]);
}

/* Every number the tag pattern finds in s, in order. */
static int scan_tags(const struct regex *rx, const struct regex_limits *lim, const char *s,
		     size_t len, struct arena *a, const char **out, size_t *n, struct err *err)
{
	struct regex_match m;
	size_t pos = 0;
	while (rx && s && *n < FOLLOWUP_MAX_NUMBERS && pos <= len) {
		int rc = regex_match(rx, s, len, pos, lim, &m, err);
		if (rc < 0)
			return -1;
		size_t st, l, st0, l0;
		if (rc == 0 || !regex_match_group(&m, 1, &st, &l) ||
		    !regex_match_group(&m, 0, &st0, &l0))
			break;
		bool dup = false;
		for (size_t i = 0; i < *n; i++)
			dup |= strlen(out[i]) == l && memcmp(out[i], s + st, l) == 0;
		if (!dup)
			out[(*n)++] = arena_memdup0(a, s + st, l);
		pos = st0 + (l0 ? l0 : 1);
	}
	return 0;
}

/* Where a pattern matches at exactly pos (after white space), its end. */
static int match_at(const struct regex *rx, const struct regex_limits *lim, const char *s,
		    size_t len, size_t pos, size_t *end_r, struct err *err)
{
	if (!rx)
		return 0;
	struct regex_match m;
	int rc = regex_match(rx, s, len, pos, lim, &m, err);
	size_t st, l;
	if (rc <= 0 || !regex_match_group(&m, 0, &st, &l))
		return rc;
	size_t p = pos;
	while (p < st && space(s[p]))
		p++;
	if (st != p || l == 0)
		return 0;
	*end_r = st + l;
	return 1;
}

/* "Re: AW: [Ticket#1] Fwd: Printer" → "Printer"; *reply_r when a reply
 * prefix led. */
static int strip_prefixes(const struct policy *p, const struct regex_limits *m, const char *s,
			  size_t len, size_t *start_r, bool *reply_r, struct err *err)
{
	size_t pos = 0;
	*reply_r = false;
	for (int round = 0; round < 16; round++) {
		size_t end;
		int rc;
		while (pos < len && space(s[pos]))
			pos++;
		if ((rc = match_at(p->reply_rx, m, s, len, pos, &end, err)) != 0) {
			if (rc < 0)
				return -1;
			*reply_r = true;
			pos = end;
			continue;
		}
		if ((rc = match_at(p->forward_rx, m, s, len, pos, &end, err)) != 0) {
			if (rc < 0)
				return -1;
			pos = end;
			continue;
		}
		if ((rc = match_at(p->subject_tag_rx, m, s, len, pos, &end, err)) != 0) {
			if (rc < 0)
				return -1;
			pos = end;
			continue;
		}
		break;
	}
	*start_r = pos;
	return 0;
}

static const char *make_key(struct arena *a, const char *s, size_t len)
{
	size_t fl;
	char *f = text_fold(a, s, len, &fl);
	size_t o = 0;
	bool sp = false;
	for (size_t i = 0; i < fl; i++) {
		if (space(f[i])) {
			sp = o > 0;
			continue;
		}
		if (sp)
			f[o++] = ' ';
		sp = false;
		f[o++] = f[i];
	}
	if (o > FOLLOWUP_KEY_MAX) {
		o = FOLLOWUP_KEY_MAX;
		while (o > 0 && ((unsigned char)f[o] & 0xC0) == 0x80)
			o--;
	}
	f[o] = '\0';
	return f;
}

const char *followup_subject_key(const struct policy *p, const struct regex_limits *m,
				 const char *subject, struct arena *arena, bool *reply_r,
				 const char **base_r)
{
	struct err err;
	size_t len = subject ? strlen(subject) : 0, start = 0;
	*reply_r = false;
	if (strip_prefixes(p, m, subject ? subject : "", len, &start, reply_r, &err) < 0)
		start = 0; /* a limit hit on a subject: keep it whole */
	if (base_r)
		*base_r = subject ? subject + start : "";
	return make_key(arena, subject ? subject + start : "", len - start);
}

int followup_scan(const struct policy *p, const struct regex_limits *m, const struct message *msg,
		  struct arena *arena, struct followup_info *fi, struct err *err)
{
	memset(fi, 0, sizeof(*fi));
	const char *subj = msg->subject ? msg->subject : "";
	size_t slen = strlen(subj);

	if (scan_tags(p->subject_tag_rx, m, subj, slen, arena, fi->numbers, &fi->nnumbers, err) < 0)
		return err_prefix(err, "subject tag");
	if (p->references) {
		if (msg->in_reply_to)
			add_id(fi, arena, msg->in_reply_to, strlen(msg->in_reply_to));
		if (msg->references)
			add_references(fi, arena, msg->references);
	}
	/* the marker hides in what the customer quoted: the original text and HTML */
	if (scan_tags(p->body_marker_rx, m, msg->text, msg->text_len, arena, fi->markers,
		      &fi->nmarkers, err) < 0 ||
	    scan_tags(p->body_marker_rx, m, msg->html, msg->html_len, arena, fi->markers,
		      &fi->nmarkers, err) < 0)
		return err_prefix(err, "body marker");
	if (p->nforeign)
		fi->foreign = arena_alloc(arena, p->nforeign * sizeof(*fi->foreign));
	for (size_t i = 0; i < p->nforeign; i++) {
		const struct foreign_tag *t = &p->foreign[i];
		const char *where[2] = {subj, msg->text};
		size_t lens[2] = {slen, msg->text_len};
		for (int w = 0; w < (t->in_body ? 2 : 1); w++) {
			struct regex_match mt;
			int rc = regex_match(t->rx, where[w], lens[w], 0, m, &mt, err);
			size_t st, l;
			if (rc < 0)
				return err_prefix(err, "foreign tag \"%s\"", t->name);
			if (rc == 1 && regex_match_group(&mt, t->group, &st, &l) && l && l <= 200) {
				fi->foreign[fi->nforeign].system = t->name;
				fi->foreign[fi->nforeign].ref = arena_memdup0(arena, where[w] + st, l);
				fi->nforeign++;
				break;
			}
		}
	}
	fi->subject_key = followup_subject_key(p, m, subj, arena, &fi->reply_prefix,
					       &fi->subject_base);
	return 0;
}

bool followup_any(const struct followup_info *fi)
{
	return fi->nnumbers || fi->nmsgids || fi->nmarkers || fi->nforeign || fi->reply_prefix;
}

void followup_plan_refs(const struct policy *p, const struct followup_info *fi,
			struct arena *arena, struct plan *plan)
{
	size_t n = fi->nnumbers + fi->nmsgids + fi->nmarkers + fi->nforeign + 1;
	struct plan_ref *r = arena_alloc(arena, n * sizeof(*r));
	size_t k = 0;
	for (size_t i = 0; i < fi->nnumbers; i++)
		r[k++] = (struct plan_ref){.kind = PLAN_REF_NUMBER, .value = fi->numbers[i]};
	for (size_t i = 0; i < fi->nmsgids; i++)
		r[k++] = (struct plan_ref){.kind = PLAN_REF_MESSAGE_ID, .value = fi->msgids[i]};
	for (size_t i = 0; i < fi->nmarkers; i++)
		r[k++] = (struct plan_ref){.kind = PLAN_REF_MARKER, .value = fi->markers[i]};
	for (size_t i = 0; i < fi->nforeign; i++)
		r[k++] = (struct plan_ref){.kind = PLAN_REF_FOREIGN, .system = fi->foreign[i].system,
					   .value = fi->foreign[i].ref};
	if (fi->reply_prefix && p->subject_days && fi->subject_key && fi->subject_key[0])
		r[k++] = (struct plan_ref){.kind = PLAN_REF_SUBJECT, .value = fi->subject_key,
					   .days = p->subject_days};
	plan->refs = r;
	plan->nrefs = k;
}
