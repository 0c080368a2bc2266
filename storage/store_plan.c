/*
 * What a plan adds to the ingest queue (store_ingest.h): the decision's
 * columns (article kind, ticket values, follow-up policies, the record of
 * statements and plan) and the follow-up references, flattened; and the
 * keys that keep a message in a later call than the one it refers to.
 *
 * SECURITY: plan values carry mail text (templates, subject keys, ids):
 * they travel as parameter values only, cleaned to valid UTF-8 by
 * ingest_add_text; JSON is built with engine/util/json.c's escaping.
 */
#include <string.h>

#include "engine/util/buf.h"
#include "engine/util/json.h"
#include "storage/store_ingest.h"

/* A plan's JSON is small; a cap keeps a runaway template from growing it. */
#define JSON_MAX ((size_t)8 << 20)

static const char *if_none_outcome(enum plan_fallback f)
{
	switch (f) {
	case PLAN_FALLBACK_IGNORE: return "ignored";
	case PLAN_FALLBACK_REJECT: return "badmail";
	case PLAN_FALLBACK_TICKET: return "ticket";
	}
	return "ticket";
}

static void add_json(struct store_col *c, struct buf *b)
{
	/* an over-long record is left out rather than cut into invalid JSON */
	ingest_add_text(c, b->failed ? NULL : buf_str(b));
	buf_reset(b);
	b->failed = false;
}

static void tags_json(struct buf *b, const char *const *tags, size_t n)
{
	buf_addc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addc(b, ',');
		json_add_str(b, tags[i]);
	}
	buf_addc(b, ']');
}

/* The changes to a ticket a follow-up lands on, NULL-free keys only. */
static bool set_json(struct buf *b, const struct plan_ticket *s)
{
	static const char *const names[] = {"status", "queue", "priority", "type", "owner",
					    "group"};
	const char *vals[] = {s->status, s->queue, s->priority, s->type, s->owner, s->group};
	int first = 1;
	buf_addc(b, '{');
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		if (!vals[i])
			continue;
		json_add_key(b, names[i], first);
		json_add_str(b, vals[i]);
		first = 0;
	}
	if (s->ntags) {
		json_add_key(b, "tags", first);
		tags_json(b, s->tags, s->ntags);
		first = 0;
	}
	if (s->fields_json) {
		json_add_key(b, "fields", first);
		buf_adds(b, s->fields_json);
		first = 0;
	}
	buf_addc(b, '}');
	return !first;
}

void ingest_add_plan(struct store_queue *q, int32_t msg, const struct store_item *item,
		     bool with_article)
{
	struct store_col *c = q->col;
	const struct plan *p = item->plan;
	struct buf b;
	buf_init(&b, JSON_MAX);
	if (!p || !with_article) {
		for (int i = C_ARTICLE_KIND; i <= C_BOUNCE_STATUS; i++)
			store_col_add(&c[i], NULL, 0);
	} else {
		const struct plan_ticket *t = &p->ticket;
		ingest_add_text(&c[C_ARTICLE_KIND], plan_article_name(p->article));
		ingest_add_text(&c[C_TYPE], t->type);
		ingest_add_text(&c[C_OWNER], t->owner);
		ingest_add_text(&c[C_GROUP], t->group);
		if (t->ntags) {
			tags_json(&b, t->tags, t->ntags);
			add_json(&c[C_TAGS], &b);
		} else {
			store_col_add(&c[C_TAGS], NULL, 0);
		}
		ingest_add_text(&c[C_FIELDS], t->fields_json);
		if (set_json(&b, &p->set))
			add_json(&c[C_SET], &b);
		else
			store_col_add(&c[C_SET], NULL, 0);
		buf_reset(&b);
		ingest_add_text(&c[C_SUBJECT_KEY], p->subject_key);
		store_col_add_bool(&c[C_FOLLOWUP], p->followup);
		ingest_add_text(&c[C_IF_NONE], if_none_outcome(p->if_none));
		ingest_add_text(&c[C_CLOSED], plan_closed_name(p->closed));
		ingest_add_text(&c[C_STRANGER],
				plan_stranger_name(p->trusted ? PLAN_STRANGER_APPEND : p->stranger));
		ingest_add_text(&c[C_CLOSED_STATUSES], p->closed_statuses);
		ingest_add_text(&c[C_REOPEN_STATUS], p->reopen_status);
		ingest_add_text(&c[C_SENDER], p->sender);
		store_col_add_i32(&c[C_SENDER_CAP], p->sender_cap > INT32_MAX ? INT32_MAX
									   : (int32_t)p->sender_cap);
		ingest_add_text(&c[C_BOUNCE_EMAIL], p->bounce_address);
		ingest_add_text(&c[C_BOUNCE_STATUS], p->bounce_status);
	}
	if (p) {
		plan_statements_json(p, &b);
		add_json(&c[C_STATEMENTS], &b);
		plan_json(p, &b);
		add_json(&c[C_PLAN], &b);
	} else {
		store_col_add(&c[C_STATEMENTS], NULL, 0);
		store_col_add(&c[C_PLAN], NULL, 0);
	}
	buf_release(&b);
	if (!p || !with_article || !p->followup)
		return;
	for (size_t i = 0; i < p->nrefs; i++) {
		const struct plan_ref *r = &p->refs[i];
		char days[16];
		store_col_add_i32(&c[C_REF_MSG], msg);
		ingest_add_text(&c[C_REF_KIND], plan_ref_kind_name(r->kind));
		if (r->kind == PLAN_REF_SUBJECT) {
			snprintf(days, sizeof(days), "%u", (unsigned)r->days);
			ingest_add_text(&c[C_REF_SYSTEM], days);
		} else {
			ingest_add_text(&c[C_REF_SYSTEM], r->system);
		}
		ingest_add_text(&c[C_REF_VALUE], r->value);
	}
}

/* ------------------------------------------------------------ keys */

enum { KEY_MSGID = 'm', KEY_FOREIGN = 'f', KEY_SUBJECT = 's' };

static uint64_t fnv(uint64_t h, const char *s, bool fold)
{
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (fold && ch >= 'A' && ch <= 'Z')
			ch = (unsigned char)(ch + 32);
		h ^= ch;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t key_hash(int kind, const char *a, const char *b, bool fold_a)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	h ^= (uint64_t)kind;
	h *= 0x100000001b3ULL;
	h = fnv(h, a, fold_a);
	h ^= 0xff; /* separator: no string holds it in valid UTF-8 */
	h *= 0x100000001b3ULL;
	h = fnv(h, b, false);
	return h ? h : 1;
}

static bool key_has(const struct store_queue *q, uint64_t k)
{
	for (size_t i = k % QUEUE_KEYS, n = 0; n < QUEUE_KEYS; i = (i + 1) % QUEUE_KEYS, n++) {
		if (q->keys[i] == k)
			return true;
		if (q->keys[i] == 0)
			return false;
	}
	return false;
}

/* False when the table is too full: the caller then treats every lookup
 * as a hit (an extra call costs little, a missed follow-up much). */
static bool key_put(struct store_queue *q, uint64_t k)
{
	if (q->nkeys >= QUEUE_KEYS * 3 / 4)
		return false;
	size_t i = k % QUEUE_KEYS;
	while (q->keys[i] != 0) {
		if (q->keys[i] == k)
			return true;
		i = (i + 1) % QUEUE_KEYS;
	}
	q->keys[i] = k;
	q->nkeys++;
	return true;
}

static bool provides(const struct store_item *item)
{
	return item->plan && item->msg &&
	       (item->outcome == OUTCOME_TICKET || item->outcome == OUTCOME_APPENDED);
}

void ingest_keys_reset(struct store_queue *q)
{
	if (q->nkeys)
		memset(q->keys, 0, sizeof(q->keys));
	q->nkeys = 0;
}

void ingest_add_keys(struct store_queue *q, const struct store_item *item)
{
	if (!provides(item))
		return;
	const struct plan *p = item->plan;
	bool ok = true;
	if (item->msg->message_id)
		ok &= key_put(q, key_hash(KEY_MSGID, item->msg->message_id, NULL, false));
	for (size_t i = 0; i < p->nrefs; i++)
		if (p->refs[i].kind == PLAN_REF_FOREIGN)
			ok &= key_put(q, key_hash(KEY_FOREIGN, p->refs[i].system, p->refs[i].value,
						  false));
	/* only a mail that surely opens a ticket (no references at all) can be
	 * found by its subject: a reply keeps the ticket it answers */
	if (p->subject_key && p->requester.email && p->nrefs == 0 &&
	    item->outcome == OUTCOME_TICKET)
		ok &= key_put(q, key_hash(KEY_SUBJECT, p->requester.email, p->subject_key, true));
	if (!ok)
		q->nkeys = QUEUE_KEYS; /* full: every later lookup splits */
}

bool ingest_needs_earlier(const struct store_queue *q, const struct store_item *item)
{
	if (!provides(item) || !item->plan->followup || q->n == 0)
		return false;
	const struct plan *p = item->plan;
	bool full = q->nkeys >= QUEUE_KEYS * 3 / 4;
	for (size_t i = 0; i < p->nrefs; i++) {
		const struct plan_ref *r = &p->refs[i];
		uint64_t k;
		switch (r->kind) {
		case PLAN_REF_MESSAGE_ID:
			k = key_hash(KEY_MSGID, r->value, NULL, false);
			break;
		case PLAN_REF_FOREIGN:
			k = key_hash(KEY_FOREIGN, r->system, r->value, false);
			break;
		case PLAN_REF_SUBJECT:
			if (!p->requester.email)
				continue;
			k = key_hash(KEY_SUBJECT, p->requester.email, r->value, true);
			break;
		default:
			/* ticket numbers exist only once stored: nobody can quote one
			 * of this batch yet */
			continue;
		}
		if (full || key_has(q, k))
			return true;
	}
	return false;
}
