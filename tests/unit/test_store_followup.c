/*
 * storage/ applying plans of the statement rules against a real
 * PostgreSQL: ticket values (type, owner, group, tags, custom fields),
 * follow-ups by each method (subject number, In-Reply-To/References, body
 * marker, other systems' tags, reply + subject), two messages of one batch
 * where the second answers the first, forged follow-ups from
 * non-participants, closed tickets, an append that finds nothing, `set` on
 * the ticket a follow-up lands on, the per-sender cap, delivery reports
 * attached to the original's ticket with the address marked bouncing, and
 * the NOTIFY events of it all.
 *
 * Needs M2T_TEST_DATABASE_URL (a role that may CREATE DATABASE); without
 * it the test is skipped. The checks read through a second connection.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "engine/util/str.h"
#include "storage/store.h"
#include "tests/unit/test.h"
#include "tests/unit/test_db.h"

static struct store *S;
static PGconn *DB;
static char *TEST_URL;
static unsigned NEXT_UID = 1;

/* ------------------------------------------------------------ database helpers */

static PGresult *q(const char *sql, const char *p1, const char *p2)
{
	const char *params[2] = {p1, p2};
	PGresult *res = PQexecParams(DB, sql, p2 ? 2 : p1 ? 1 : 0, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		fprintf(stderr, "  query failed: %s\n  %s", sql, PQresultErrorMessage(res));
		PQclear(res);
		return NULL;
	}
	return res;
}

/* First column of the first row, into a static buffer; "(none)" when absent. */
static const char *qs(const char *sql, const char *p1, const char *p2)
{
	static char out[8][512];
	static int k;
	char *o = out[k++ % 8];
	PGresult *res = q(sql, p1, p2);
	if (res && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		snprintf(o, 512, "%s", PQgetvalue(res, 0, 0));
	else
		snprintf(o, 512, "(none)");
	PQclear(res);
	return o;
}

static const char *id_s(int64_t v)
{
	static char out[8][24];
	static int k;
	char *o = out[k++ % 8];
	snprintf(o, 24, "%" PRId64, v);
	return o;
}

/* ------------------------------------------------------------ message builders */

struct mail {
	struct message msg;
	struct plan plan;
	struct store_item item;
	struct address to[2];
	struct address cc[1];
	struct plan_ref refs[4];
	char mid[64];
	char sha[65];
};

/* A new mail from `from`, planned as a new ticket that looks for follow-ups. */
static void mail_init(struct mail *m, const char *from, const char *subject)
{
	memset(m, 0, sizeof(*m));
	unsigned uid = NEXT_UID++;
	snprintf(m->mid, sizeof(m->mid), "f%u@test.example", uid);
	snprintf(m->sha, sizeof(m->sha), "%064x", uid);
	struct message *g = &m->msg;
	g->message_id = m->mid;
	g->subject = subject;
	g->from = (struct address){"Sender", from};
	g->reply_to = (struct address){"", ""};
	m->to[0] = (struct address){"Support", "support@example.com"};
	g->to.v = m->to;
	g->to.n = 1;
	g->cc.v = m->cc;
	g->text = "text";
	g->text_len = 4;
	memcpy(g->raw_sha256, m->sha, sizeof(m->sha));
	plan_default(g, &m->plan);
	m->plan.sender = from;
	m->plan.closed_statuses = "closed,resolved";
	m->plan.refs = m->refs;
	struct store_item *it = &m->item;
	it->account = "acct";
	it->mailbox = "INBOX";
	it->uidvalidity = 1;
	it->uid = uid;
	it->sha256 = m->sha;
	it->msg = g;
	it->plan = &m->plan;
	it->outcome = OUTCOME_TICKET;
}

static void mail_ref(struct mail *m, enum plan_ref_kind kind, const char *system,
		     const char *value)
{
	m->refs[m->plan.nrefs++] = (struct plan_ref){.kind = kind, .system = system, .value = value,
						     .days = 14};
}

static void mail_append(struct mail *m)
{
	m->plan.action = PLAN_APPEND;
	m->item.outcome = OUTCOME_APPENDED;
}

/* One transaction for the given mails (queued in order, then COMMIT). */
static int store_mails(struct mail **v, size_t n)
{
	struct err err = {0};
	if (store_begin(S, &err) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (store_apply_async(S, 0, &v[i]->item, &err) < 0)
			goto fail;
	if (store_commit(S, &err) < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "  store: %s\n", err.msg);
	store_rollback(S);
	return -1;
}

static int store1(struct mail *m)
{
	struct mail *v[1] = {m};
	return store_mails(v, 1);
}

/* A stored ticket to follow up: its first mail from `from`. */
static void ticket_from(struct mail *m, const char *from, const char *subject)
{
	mail_init(m, from, subject);
	CHECK_INT(store1(m), 0);
	CHECK_INT(m->item.done_outcome, OUTCOME_TICKET);
}

/* ------------------------------------------------------------ tests */

TEST(ticket_values_and_record)
{
	struct mail m;
	mail_init(&m, "anna@example.org", "Order 42");
	static const char *tags[] = {"shop", "order-42"};
	m.plan.ticket.type = "order";
	m.plan.ticket.owner = "alice";
	m.plan.ticket.group = "billing";
	m.plan.ticket.tags = tags;
	m.plan.ticket.ntags = 2;
	m.plan.ticket.fields_json = "{\"order\":42,\"note\":\"x\\\"y\"}";
	m.plan.subject_key = "order 42";
	static const char *stmts[] = {"shop", "vip (else)"};
	m.plan.statements = stmts;
	m.plan.nstatements = 2;
	m.plan.body = "replaced body";
	CHECK_INT(store1(&m), 0);
	const char *t = id_s(m.item.ticket_id);
	CHECK_STR(qs("SELECT type || '|' || owner || '|' || group_name || '|' || array_to_string(tags, ',') "
		     "|| '|' || (fields->>'order') || '|' || (fields->>'note') || '|' || subject_key "
		     "FROM tickets WHERE id = $1", t, NULL),
		  "order|alice|billing|shop,order-42|42|x\"y|order 42");
	CHECK_STR(qs("SELECT jsonb_typeof(fields->'order') FROM tickets WHERE id = $1", t, NULL), "number");
	CHECK_STR(qs("SELECT statements::text FROM processed_messages WHERE uid = $1",
		     id_s(m.item.uid), NULL), "[\"shop\", \"vip (else)\"]");
	CHECK_STR(qs("SELECT plan->>'action' || ' ' || (plan->'ticket'->>'queue') FROM processed_messages "
		     "WHERE uid = $1", id_s(m.item.uid), NULL), "create_ticket default");
	CHECK_STR(qs("SELECT body_text FROM articles WHERE ticket_id = $1", t, NULL), "replaced body");
	/* the requester and the recipients are the ticket's participants */
	CHECK_STR(qs("SELECT string_agg(email, ',' ORDER BY email) FROM ticket_participants "
		     "WHERE ticket_id = $1", t, NULL), "anna@example.org,support@example.com");
}

TEST(followup_by_each_method)
{
	struct mail t, m;
	ticket_from(&t, "ben@example.org", "Printer broken");
	const char *num = t.item.ticket_number;

	/* the subject's ticket number */
	mail_init(&m, "ben@example.org", "Re: [Ticket#x] Printer broken");
	mail_ref(&m, PLAN_REF_NUMBER, NULL, num);
	CHECK_INT(store1(&m), 0);
	CHECK_INT(m.item.done_outcome, OUTCOME_APPENDED);
	CHECK_INT(m.item.ticket_id, t.item.ticket_id);
	char want[128];
	snprintf(want, sizeof(want), "number %s", num);
	CHECK_STR(m.item.matched_by, want);
	CHECK_STR(qs("SELECT matched_by FROM processed_messages WHERE uid = $1", id_s(m.item.uid), NULL),
		  want);

	/* In-Reply-To / References against a stored article's Message-ID; a
	 * reference to nothing known first is skipped */
	mail_init(&m, "ben@example.org", "Re: Printer broken");
	mail_ref(&m, PLAN_REF_MESSAGE_ID, NULL, "unknown@elsewhere");
	mail_ref(&m, PLAN_REF_MESSAGE_ID, NULL, t.mid);
	CHECK_INT(store1(&m), 0);
	CHECK_INT(m.item.ticket_id, t.item.ticket_id);
	snprintf(want, sizeof(want), "message_id <%s>", t.mid);
	CHECK_STR(m.item.matched_by, want);

	/* the hidden body marker */
	mail_init(&m, "ben@example.org", "no subject tag");
	mail_ref(&m, PLAN_REF_MARKER, NULL, num);
	CHECK_INT(store1(&m), 0);
	CHECK_INT(m.item.ticket_id, t.item.ticket_id);

	/* another system's tag: stored with the ticket by one mail, found by the next */
	struct mail v;
	mail_init(&v, "ben@example.org", "[SUP-77] vendor case");
	mail_ref(&v, PLAN_REF_NUMBER, NULL, num);
	mail_ref(&v, PLAN_REF_FOREIGN, "jira", "SUP-77");
	CHECK_INT(store1(&v), 0);
	CHECK_STR(qs("SELECT ticket_id FROM ticket_external_refs WHERE system = 'jira' AND ref = 'SUP-77'",
		     NULL, NULL), id_s(t.item.ticket_id));
	mail_init(&m, "ben@example.org", "Update on SUP-77");
	mail_ref(&m, PLAN_REF_FOREIGN, "jira", "SUP-77");
	CHECK_INT(store1(&m), 0);
	CHECK_INT(m.item.ticket_id, t.item.ticket_id);
	CHECK_STR(m.item.matched_by, "foreign jira SUP-77");

	/* reply prefix + same subject from the same requester */
	struct mail s;
	mail_init(&s, "carla@example.org", "VPN drops");
	s.plan.subject_key = "vpn drops";
	CHECK_INT(store1(&s), 0);
	mail_init(&m, "carla@example.org", "AW: VPN drops");
	mail_ref(&m, PLAN_REF_SUBJECT, NULL, "vpn drops");
	CHECK_INT(store1(&m), 0);
	CHECK_INT(m.item.ticket_id, s.item.ticket_id);
	CHECK_STR(m.item.matched_by, "subject \"vpn drops\"");
	/* ...but not from someone else */
	mail_init(&m, "dora@example.org", "AW: VPN drops");
	mail_ref(&m, PLAN_REF_SUBJECT, NULL, "vpn drops");
	CHECK_INT(store1(&m), 0);
	CHECK_INT(m.item.done_outcome, OUTCOME_TICKET);
	CHECK(m.item.ticket_id != s.item.ticket_id);

	/* a follow-up lookup can be switched off per plan */
	mail_init(&m, "ben@example.org", "[Ticket#x] new anyway");
	mail_ref(&m, PLAN_REF_NUMBER, NULL, num);
	m.plan.followup = false;
	CHECK_INT(store1(&m), 0);
	CHECK_INT(m.item.done_outcome, OUTCOME_TICKET);
	CHECK_STR(qs("SELECT count(*) FROM articles WHERE ticket_id = $1", id_s(t.item.ticket_id),
		     NULL), "6");
}

TEST(reply_in_same_batch_lands_on_first)
{
	struct mail a, b, c, d;
	mail_init(&a, "eva@example.org", "Laptop request");
	mail_init(&b, "eva@example.org", "Re: Laptop request");
	mail_ref(&b, PLAN_REF_MESSAGE_ID, NULL, a.mid);
	mail_init(&c, "eva@example.org", "Re: Re: Laptop request");
	mail_ref(&c, PLAN_REF_MESSAGE_ID, NULL, b.mid);
	mail_init(&d, "frank@example.org", "unrelated");
	struct mail *v[] = {&a, &d, &b, &c};
	CHECK_INT(store_mails(v, 4), 0);
	CHECK_INT(a.item.done_outcome, OUTCOME_TICKET);
	CHECK_INT(b.item.done_outcome, OUTCOME_APPENDED);
	CHECK_INT(c.item.done_outcome, OUTCOME_APPENDED);
	CHECK_INT(b.item.ticket_id, a.item.ticket_id);
	CHECK_INT(c.item.ticket_id, a.item.ticket_id);
	CHECK_INT(d.item.done_outcome, OUTCOME_TICKET);
}

TEST(forged_followups_from_non_participants)
{
	struct mail t, m;
	ticket_from(&t, "gina@example.org", "Salary question");
	const char *tid = id_s(t.item.ticket_id);

	/* default: appended, but as an internal note, never as the customer */
	mail_init(&m, "mallory@evil.example", "Re: [Ticket#x] Salary question");
	mail_ref(&m, PLAN_REF_NUMBER, NULL, t.item.ticket_number);
	CHECK_INT(store1(&m), 0);
	CHECK_INT(m.item.done_outcome, OUTCOME_APPENDED);
	CHECK_STR(qs("SELECT kind FROM articles WHERE id = $1", id_s(m.item.article_id), NULL), "note");
	CHECK(strstr(qs("SELECT reason FROM processed_messages WHERE uid = $1", id_s(m.item.uid), NULL),
		     "not a participant: appended as a note") != NULL);
	/* a note does not make the stranger a participant */
	CHECK_STR(qs("SELECT count(*) FROM ticket_participants WHERE ticket_id = $1 AND email = "
		     "'mallory@evil.example'", tid, NULL), "0");

	/* reject: badmail with the reason */
	mail_init(&m, "mallory@evil.example", "Re: forged");
	mail_ref(&m, PLAN_REF_MESSAGE_ID, NULL, t.mid);
	m.plan.stranger = PLAN_STRANGER_REJECT;
	CHECK_INT(store1(&m), 0);
	CHECK_INT(m.item.done_outcome, OUTCOME_BADMAIL);
	CHECK_INT(m.item.article_id, 0);

	/* new ticket linked to the one it claimed */
	mail_init(&m, "mallory@evil.example", "Re: forged");
	mail_ref(&m, PLAN_REF_NUMBER, NULL, t.item.ticket_number);
	m.plan.stranger = PLAN_STRANGER_NEW_TICKET;
	CHECK_INT(store1(&m), 0);
	CHECK_INT(m.item.done_outcome, OUTCOME_TICKET);
	CHECK_STR(qs("SELECT linked_ticket_id FROM tickets WHERE id = $1", id_s(m.item.ticket_id), NULL),
		  tid);

	/* someone the customer copied is a participant: a real reply */
	struct mail t2;
	mail_init(&t2, "hans@example.org", "Team event");
	t2.cc[0] = (struct address){"Colleague", "Ina@Example.org"};
	t2.msg.cc.n = 1;
	CHECK_INT(store1(&t2), 0);
	mail_init(&m, "ina@example.org", "Re: Team event");
	mail_ref(&m, PLAN_REF_MESSAGE_ID, NULL, t2.mid);
	CHECK_INT(store1(&m), 0);
	CHECK_STR(qs("SELECT kind FROM articles WHERE id = $1", id_s(m.item.article_id), NULL),
		  "customer");

	/* a trusted sender (trusted_domains) is appended as is */
	mail_init(&m, "agent@ourcompany.example", "Re: Salary question");
	mail_ref(&m, PLAN_REF_NUMBER, NULL, t.item.ticket_number);
	m.plan.trusted = true;
	CHECK_INT(store1(&m), 0);
	CHECK_STR(qs("SELECT kind FROM articles WHERE id = $1", id_s(m.item.article_id), NULL),
		  "customer");
}

TEST(closed_ticket_policies)
{
	struct mail t, m;
	PGconn *l = PQconnectdb(TEST_URL);
	ticket_from(&t, "jan@example.org", "Done soon");
	const char *tid = id_s(t.item.ticket_id);
	PQclear(q("UPDATE tickets SET status = 'closed' WHERE id = $1", tid, NULL));
	PQclear(PQexec(l, "LISTEN mail2ticket_events"));

	/* default: reopened to reopen_status, announced as ticket_updated */
	mail_init(&m, "jan@example.org", "Re: Done soon");
	mail_ref(&m, PLAN_REF_MESSAGE_ID, NULL, t.mid);
	CHECK_INT(store1(&m), 0);
	CHECK_INT(m.item.done_outcome, OUTCOME_APPENDED);
	CHECK_STR(qs("SELECT status FROM tickets WHERE id = $1", tid, NULL), "open");
	char want[200];
	snprintf(want, sizeof(want), "{\"event\" : \"ticket_updated\", \"ticket_id\" : %s, "
		 "\"number\" : \"%s\", \"changes\" : [\"status\"]}", tid, t.item.ticket_number);
	char *p = test_db_wait_notify(l, 3000);
	CHECK_STR(p, want);
	free(p);
	p = test_db_wait_notify(l, 3000);
	CHECK(p && strstr(p, "article_added"));
	free(p);

	PQclear(q("UPDATE tickets SET status = 'resolved' WHERE id = $1", tid, NULL));
	mail_init(&m, "jan@example.org", "Re: Done soon");
	mail_ref(&m, PLAN_REF_MESSAGE_ID, NULL, t.mid);
	m.plan.closed = PLAN_CLOSED_NEW_TICKET;
	CHECK_INT(store1(&m), 0);
	CHECK_INT(m.item.done_outcome, OUTCOME_TICKET);
	CHECK_STR(qs("SELECT linked_ticket_id FROM tickets WHERE id = $1", id_s(m.item.ticket_id), NULL),
		  tid);

	mail_init(&m, "jan@example.org", "Re: Done soon");
	mail_ref(&m, PLAN_REF_MESSAGE_ID, NULL, t.mid);
	m.plan.closed = PLAN_CLOSED_REJECT;
	CHECK_INT(store1(&m), 0);
	CHECK_INT(m.item.done_outcome, OUTCOME_BADMAIL);
	CHECK(strstr(qs("SELECT reason FROM processed_messages WHERE uid = $1", id_s(m.item.uid), NULL),
		     "is closed: rejected") != NULL);

	/* a note (auto-reply) attaches without reopening */
	mail_init(&m, "jan@example.org", "Out of office");
	mail_ref(&m, PLAN_REF_MESSAGE_ID, NULL, t.mid);
	mail_append(&m);
	m.plan.article = PLAN_ARTICLE_NOTE;
	m.plan.if_none = PLAN_FALLBACK_IGNORE;
	CHECK_INT(store1(&m), 0);
	CHECK_INT(m.item.done_outcome, OUTCOME_APPENDED);
	CHECK_STR(qs("SELECT status FROM tickets WHERE id = $1", tid, NULL), "resolved");
	PQfinish(l);
}

TEST(append_without_ticket_and_set)
{
	struct mail m, t;
	mail_init(&m, "kai@example.org", "Re: something we never saw");
	mail_ref(&m, PLAN_REF_MESSAGE_ID, NULL, "never@seen");
	mail_append(&m);
	m.plan.if_none = PLAN_FALLBACK_IGNORE;
	CHECK_INT(store1(&m), 0);
	CHECK_INT(m.item.done_outcome, OUTCOME_IGNORED);
	CHECK(strstr(qs("SELECT reason FROM processed_messages WHERE uid = $1", id_s(m.item.uid), NULL),
		     "no ticket to append to: ignored") != NULL);
	mail_init(&m, "kai@example.org", "Re: something we never saw");
	mail_append(&m);
	CHECK_INT(store1(&m), 0);
	CHECK_INT(m.item.done_outcome, OUTCOME_TICKET);

	ticket_from(&t, "kai@example.org", "Set me");
	static const char *tags[] = {"followed", "again"};
	mail_init(&m, "kai@example.org", "Re: Set me");
	mail_ref(&m, PLAN_REF_MESSAGE_ID, NULL, t.mid);
	m.plan.set.priority = "urgent";
	m.plan.set.tags = tags;
	m.plan.set.ntags = 2;
	m.plan.set.fields_json = "{\"seen\":true}";
	CHECK_INT(store1(&m), 0);
	CHECK_STR(qs("SELECT priority || ' ' || array_to_string(tags, ',') || ' ' || fields::text FROM tickets "
		     "WHERE id = $1", id_s(t.item.ticket_id), NULL), "urgent followed,again {\"seen\": true}");
	/* tags are added once */
	CHECK_INT(store1((mail_init(&m, "kai@example.org", "Re: Set me"),
			  mail_ref(&m, PLAN_REF_MESSAGE_ID, NULL, t.mid), m.plan.set.tags = tags,
			  m.plan.set.ntags = 1, &m)), 0);
	CHECK_STR(qs("SELECT array_to_string(tags, ',') FROM tickets WHERE id = $1",
		     id_s(t.item.ticket_id), NULL), "followed,again");

	/* two follow-ups of one ticket in one call: the later value wins, tags
	 * are added in order, fields merge */
	static const char *tags2[] = {"third"};
	struct mail a, b;
	mail_init(&a, "kai@example.org", "Re: Set me");
	mail_ref(&a, PLAN_REF_MESSAGE_ID, NULL, t.mid);
	a.plan.set.priority = "low";
	a.plan.set.status = "pending";
	a.plan.set.fields_json = "{\"seen\":false,\"a\":1}";
	mail_init(&b, "kai@example.org", "Re: Set me");
	mail_ref(&b, PLAN_REF_MESSAGE_ID, NULL, t.mid);
	b.plan.set.priority = "high";
	b.plan.set.tags = tags2;
	b.plan.set.ntags = 1;
	b.plan.set.fields_json = "{\"b\":2}";
	struct mail *v[] = {&a, &b};
	CHECK_INT(store_mails(v, 2), 0);
	CHECK_STR(qs("SELECT priority || ' ' || status || ' ' || array_to_string(tags, ',') || ' ' || "
		     "fields::text FROM tickets WHERE id = $1", id_s(t.item.ticket_id), NULL),
		  "high pending followed,again,third {\"a\": 1, \"b\": 2, \"seen\": false}");
}

TEST(sender_cap_stops_a_flood)
{
	struct mail m[5];
	struct mail *v[5];
	for (int i = 0; i < 5; i++) {
		mail_init(&m[i], "loop@robot.example", "I am a loop");
		m[i].plan.sender_cap = 3;
		v[i] = &m[i];
	}
	/* one before, four in a batch: the cap of 3 per hour lets two more in */
	CHECK_INT(store_mails(v, 1), 0);
	CHECK_INT(store_mails(v + 1, 4), 0);
	CHECK_INT(m[1].item.done_outcome, OUTCOME_TICKET);
	CHECK_INT(m[2].item.done_outcome, OUTCOME_TICKET);
	CHECK_INT(m[3].item.done_outcome, OUTCOME_IGNORED);
	CHECK_INT(m[4].item.done_outcome, OUTCOME_IGNORED);
	CHECK(strstr(qs("SELECT reason FROM processed_messages WHERE uid = $1", id_s(m[4].item.uid), NULL),
		     "loop protection: more than 3 new tickets from loop@robot.example in the last hour") != NULL);
	/* follow-ups are not capped */
	struct mail f;
	mail_init(&f, "loop@robot.example", "Re: I am a loop");
	mail_ref(&f, PLAN_REF_MESSAGE_ID, NULL, m[0].mid);
	f.plan.sender_cap = 3;
	CHECK_INT(store1(&f), 0);
	CHECK_INT(f.item.done_outcome, OUTCOME_APPENDED);
}

TEST(delivery_report_attached_and_address_bouncing)
{
	struct mail t, d;
	PGconn *l = PQconnectdb(TEST_URL);
	ticket_from(&t, "lena@example.org", "Where is my order");
	/* an agent's reply, written by the front end, bounced */
	PQclear(q("INSERT INTO articles (ticket_id, kind, message_id, from_email, subject) "
		  "VALUES ($1, 'agent', 'agent-reply-1@helpdesk.example', 'support@example.com', 'Re')",
		  id_s(t.item.ticket_id), NULL));
	PQclear(PQexec(l, "LISTEN mail2ticket_events"));
	mail_init(&d, "MAILER-DAEMON@mx.example", "Undelivered Mail Returned to Sender");
	mail_append(&d);
	mail_ref(&d, PLAN_REF_MESSAGE_ID, NULL, "agent-reply-1@helpdesk.example");
	d.plan.article = PLAN_ARTICLE_SYSTEM;
	d.plan.if_none = PLAN_FALLBACK_IGNORE;
	d.plan.closed = PLAN_CLOSED_ATTACH;
	d.plan.bounce_address = "lena@example.org";
	d.plan.bounce_status = "5.1.1";
	CHECK_INT(store1(&d), 0);
	CHECK_INT(d.item.done_outcome, OUTCOME_APPENDED);
	CHECK_INT(d.item.ticket_id, t.item.ticket_id);
	CHECK_STR(qs("SELECT kind FROM articles WHERE id = $1", id_s(d.item.article_id), NULL), "system");
	CHECK_STR(qs("SELECT bouncing::text || ' ' || bounce_status FROM contacts WHERE email = "
		     "'lena@example.org'", NULL, NULL), "true 5.1.1");
	bool seen = false;
	for (char *p; (p = test_db_wait_notify(l, 1000)) != NULL; free(p))
		seen |= strstr(p, "\"contact_bouncing\"") && strstr(p, "lena@example.org");
	CHECK(seen);

	/* a report about a mail we do not know: ignored, nobody marked */
	mail_init(&d, "MAILER-DAEMON@mx.example", "Undelivered");
	mail_append(&d);
	mail_ref(&d, PLAN_REF_MESSAGE_ID, NULL, "someone-else@forged.example");
	d.plan.article = PLAN_ARTICLE_SYSTEM;
	d.plan.if_none = PLAN_FALLBACK_IGNORE;
	d.plan.bounce_address = "victim@example.org";
	CHECK_INT(store1(&d), 0);
	CHECK_INT(d.item.done_outcome, OUTCOME_IGNORED);
	CHECK_STR(qs("SELECT count(*) FROM contacts WHERE email = 'victim@example.org'", NULL, NULL), "0");

	/* mail from the address again clears the mark */
	struct mail m;
	mail_init(&m, "lena@example.org", "I am back");
	CHECK_INT(store1(&m), 0);
	CHECK_STR(qs("SELECT bouncing::text FROM contacts WHERE email = 'lena@example.org'", NULL, NULL),
		  "false");
	PQfinish(l);
}

/* ------------------------------------------------------------ setup */

int main(void)
{
	struct test_db tdb;
	int setup = test_db_create(&tdb, "test_store_followup", "m2t_test_fu");
	if (setup != 0)
		return setup > 0 ? 0 : 1;
	TEST_URL = tdb.url;
	DB = PQconnectdb(TEST_URL);
	PQsetNoticeProcessor(DB, test_db_quiet, NULL);
	struct err err = {0};
	int rc = 1;
	FILE *devnull = fopen("/dev/null", "w");
	if (PQstatus(DB) != CONNECTION_OK || store_open(TEST_URL, &S, &err) < 0 ||
	    store_migrate(S, devnull, &err) < 0) {
		fprintf(stderr, "setup: %s%s\n", PQerrorMessage(DB), err.msg);
		printf("FAIL test_store_followup_setup\n");
		goto out;
	}
	RUN(ticket_values_and_record);
	RUN(followup_by_each_method);
	RUN(reply_in_same_batch_lands_on_first);
	RUN(forged_followups_from_non_participants);
	RUN(closed_ticket_policies);
	RUN(append_without_ticket_and_set);
	RUN(sender_cap_stops_a_flood);
	RUN(delivery_report_attached_and_address_bouncing);
	rc = test_summary();
out:
	if (devnull)
		fclose(devnull);
	store_free(&S);
	PQfinish(DB);
	test_db_drop(&tdb);
	return rc;
}
