/*
 * Read-only listings for people (the demo, `mail2ticket` subcommands):
 * tickets with their requester and article count, and what one job run did
 * with each message.
 *
 * SECURITY: subjects, names and reasons come from mail; each is passed
 * through log_clean() (control characters replaced, length cut) before it
 * reaches a terminal.
 */
#include "storage/store.h"

#include <inttypes.h>
#include <string.h>

#include "engine/util/log.h"
#include "engine/util/str.h"
#include "storage/store_int.h"

/* A field of res made safe for a terminal, cut to fit out. */
static const char *field_clean(const PGresult *res, int row, int col, char *out, size_t outlen)
{
	if (PQgetisnull(res, row, col)) {
		snprintf(out, outlen, "-");
		return out;
	}
	const char *s = PQgetvalue(res, row, col);
	return log_clean(s, (size_t)PQgetlength(res, row, col), out, outlen);
}

/* s, then spaces up to `width` terminal columns (not bytes: names may be CJK). */
static void print_padded(FILE *out, const char *s, size_t width)
{
	fputs(s, out);
	for (size_t w = str_display_width(s); w < width; w++)
		fputc(' ', out);
}

int store_print_tickets(struct store *store, FILE *out, unsigned limit, struct err *err)
{
	char lim[16];
	snprintf(lim, sizeof(lim), "%u", limit);
	const char *params[1] = { limit ? lim : NULL }; /* LIMIT NULL: no limit */
	PGresult *res;
	if (store_exec(store,
		       "SELECT * FROM ("
		       " SELECT t.number,"
		       "        CASE WHEN c.id IS NULL THEN NULL"
		       "             WHEN c.name = '' THEN c.email"
		       "             ELSE c.name || ' <' || c.email || '>' END,"
		       "        (SELECT count(*) FROM articles a WHERE a.ticket_id = t.id),"
		       "        t.subject, t.id"
		       "   FROM tickets t LEFT JOIN contacts c ON c.id = t.requester_id"
		       "  ORDER BY t.id DESC LIMIT $1::bigint) newest"
		       " ORDER BY id",
		       1, params, PGRES_TUPLES_OK, &res, "list tickets", err) < 0)
		return -1;
	int n = PQntuples(res);
	fprintf(out, "%-15s %8s  %-40s %s\n", "NUMBER", "ARTICLES", "REQUESTER", "SUBJECT");
	for (int i = 0; i < n; i++) {
		char num[32], req[41], cnt[16], subj[73];
		fprintf(out, "%-15s %8s  ", field_clean(res, i, 0, num, sizeof(num)),
			field_clean(res, i, 2, cnt, sizeof(cnt)));
		print_padded(out, field_clean(res, i, 1, req, sizeof(req)), 41);
		fprintf(out, "%s\n", field_clean(res, i, 3, subj, sizeof(subj)));
	}
	fprintf(out, "%d ticket%s\n", n, n == 1 ? "" : "s");
	PQclear(res);
	return 0;
}

int store_print_run(struct store *store, int64_t job_run_id, FILE *out, struct err *err)
{
	char id[24];
	snprintf(id, sizeof(id), "%" PRId64, job_run_id);
	const char *params[1] = { id };
	PGresult *res;
	if (store_exec(store,
		       "SELECT coalesce(pm.uid::text, pm.source_key), pm.outcome, t.number,"
		       "       pm.message_id, pm.reason"
		       "  FROM processed_messages pm LEFT JOIN tickets t ON t.id = pm.ticket_id"
		       " WHERE pm.job_run_id = $1 ORDER BY pm.id",
		       1, params, PGRES_TUPLES_OK, &res, "list job run", err) < 0)
		return -1;
	int n = PQntuples(res);
	/* ID: the IMAP UID, else the POP3 UIDL or Maildir name (cut) */
	fprintf(out, "%-10s %-9s %-15s %-40s %s\n", "ID", "OUTCOME", "TICKET", "MESSAGE-ID", "REASON");
	for (int i = 0; i < n; i++) {
		char uid[24], oc[16], num[32], mid[41], why[121];
		fprintf(out, "%-10s %-9s %-15s %-40s %s\n", field_clean(res, i, 0, uid, sizeof(uid)),
			field_clean(res, i, 1, oc, sizeof(oc)), field_clean(res, i, 2, num, sizeof(num)),
			field_clean(res, i, 3, mid, sizeof(mid)),
			field_clean(res, i, 4, why, sizeof(why)));
	}
	fprintf(out, "%d message%s\n", n, n == 1 ? "" : "s");
	PQclear(res);
	return 0;
}
