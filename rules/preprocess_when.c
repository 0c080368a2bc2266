/*
 * When a stage runs (rules/preprocess.h): `only_replies`, `client: [ids]`
 * and a pack's `when:` (client ids, header regexes, HTML markers), and
 * which client a mail came from when the message model could not tell.
 *
 * SECURITY: header values and HTML are mail. Header regexes run under the
 * pipeline's regex limits; a header that breaks one simply does not match.
 */
#include "rules/preprocess_int.h"

#include <string.h>
#include <strings.h>

static bool header_matches(const struct preprocess *pp, const struct message *msg,
			   const struct pp_header_cond *h)
{
	struct regex_match m;
	struct err ignored;
	for (size_t i = 0; i < msg->nheaders; i++) {
		const struct header *hd = &msg->headers[i];
		if (!hd->name || !hd->value || strcasecmp(hd->name, h->name) != 0)
			continue;
		if (regex_match(h->re, hd->value, strlen(hd->value), 0, &pp->lim.regex, &m,
				&ignored) == 1)
			return true;
	}
	return false;
}

static bool html_has(const struct message *msg, const char *needle)
{
	return msg->html && memmem(msg->html, msg->html_len, needle, strlen(needle)) != NULL;
}

static bool name_in(const char *name, char *const *v, size_t n)
{
	for (size_t i = 0; name && i < n; i++)
		if (strcmp(name, v[i]) == 0)
			return true;
	return false;
}

void pp_marks_fill(const struct preprocess *pp, const struct message *msg, unsigned char *marks)
{
	for (size_t i = 0; i < pp->nstages; i++) {
		const struct pp_when *w = &pp->stages[i].when;
		unsigned char m = 0;
		if (!w->set)
			continue;
		for (size_t k = 0; k < w->nheaders && !(m & PP_MARK_HEADERS); k++)
			if (header_matches(pp, msg, &w->headers[k]))
				m |= PP_MARK_HEADERS;
		for (size_t k = 0; k < w->nhtml && !(m & PP_MARK_HTML); k++)
			if (html_has(msg, w->html[k]))
				m |= PP_MARK_HTML;
		marks[i] = m;
	}
}

const char *pp_client_detect(const struct preprocess *pp, const struct message *msg,
			     const unsigned char *marks)
{
	if (msg->client)
		return msg->client;
	/* X-Mailer, User-Agent and Message-ID say more than markup */
	for (unsigned bit = PP_MARK_HEADERS; bit <= PP_MARK_HTML; bit <<= 1) {
		for (size_t i = 0; i < pp->nstages; i++)
			if (pp->stages[i].detects_client && (marks[i] & bit))
				return pp->stages[i].name;
	}
	return NULL;
}

bool pp_stage_applies(const struct pp_stage *st, const char *client, bool is_reply,
		      unsigned char mark)
{
	if (st->only_replies && !is_reply)
		return false;
	if (st->nclients && !name_in(client, st->clients, st->nclients))
		return false;
	/* a pack applies to the client it is named for, the clients its `when`
	 * names, and mail that shows its markers */
	if (st->when.set && !(client && strcmp(client, st->name) == 0) &&
	    !name_in(client, st->when.clients, st->when.nclients) && !mark)
		return false;
	return true;
}
