/*
 * Loop protection (rules/loops.c, rules/decide.c): every header that makes
 * a mail an auto-reply or bulk, bounces (reports, mailer-daemon, a null
 * sender), our own addresses and X-Loop, spam scores; delivery reports as
 * the message model reads them (several recipients, the failed one chosen;
 * the whole way from raw bytes through mime_parse) and from the text of a
 * report-less bounce; and what the decision does with each under each
 * policy, rules or not.
 */
#include <string.h>

#include "engine/mime/message.h"

#include "engine/util/arena.h"
#include "rules/decide.h"
#include "rules/loops.h"
#include "rules/policy.h"
#include "rules/rules_int.h"
#include "rules/regex.h"
#include "tests/unit/rules_fixture.h"
#include "tests/unit/test.h"

static struct arena *A;
static struct policy P;

static struct msg_flags flags_of(struct msg_fixture *f)
{
	struct dsn_info d;
	struct msg_flags fl;
	dsn_scan(&f->m, A, &d);
	loops_scan(&P, &f->m, &d, A, &fl);
	return fl;
}

static bool auto_with(const char *name, const char *value)
{
	struct msg_fixture f;
	msg_init(&f, "x", "");
	msg_header(&f, name, value);
	return flags_of(&f).auto_reply;
}

static bool bulk_with(const char *name, const char *value)
{
	struct msg_fixture f;
	msg_init(&f, "x", "");
	msg_header(&f, name, value);
	return flags_of(&f).bulk;
}

TEST(auto_reply_and_bulk_headers)
{
	CHECK(auto_with("Auto-Submitted", "auto-replied"));
	CHECK(auto_with("Auto-Submitted", "Auto-Generated; owner-email=x@y"));
	CHECK(!auto_with("Auto-Submitted", "no"));
	CHECK(!auto_with("Auto-Submitted", "No (comment)"));
	CHECK(auto_with("X-Autoreply", "yes"));
	CHECK(auto_with("X-Autorespond", "anything"));
	CHECK(auto_with("X-Auto-Response-Suppress", "DR, OOF, AutoReply"));
	CHECK(auto_with("X-Auto-Response-Suppress", "All"));
	CHECK(!auto_with("X-Auto-Response-Suppress", "DR, RN"));
	CHECK(auto_with("Precedence", "auto_reply"));
	CHECK(auto_with("Return-Path", "<>"));
	CHECK(!auto_with("Return-Path", "<anna@example.org>"));
	CHECK(bulk_with("Precedence", "bulk"));
	CHECK(bulk_with("Precedence", "JUNK"));
	CHECK(bulk_with("Precedence", "list"));
	CHECK(!bulk_with("Precedence", "first-class"));
	CHECK(bulk_with("List-Id", "<helpdesk.lists.example.org>"));
	struct msg_fixture f;
	msg_init(&f, "x", "");
	struct msg_flags fl = flags_of(&f);
	CHECK(!fl.auto_reply && !fl.bulk && !fl.bounce && !fl.own && !fl.spam);
}

TEST(bounces_own_addresses_spam)
{
	struct msg_fixture f;
	msg_init(&f, "Undelivered", "");
	f.m.from.email = "MAILER-DAEMON@mx.example.org";
	CHECK(flags_of(&f).bounce);
	f.m.from.email = "postmaster@example.org";
	CHECK(flags_of(&f).bounce);
	f.m.from.email = "postmasters@example.org";
	CHECK(!flags_of(&f).bounce);

	struct policy p;
	policy_init(&p);
	policy_add_own_address(&p, "Support@Example.com");
	msg_init(&f, "x", "");
	f.m.from.email = "support@example.COM";
	struct dsn_info d;
	struct msg_flags fl;
	dsn_scan(&f.m, A, &d);
	loops_scan(&p, &f.m, &d, A, &fl);
	CHECK(fl.own);
	msg_init(&f, "x", "");
	msg_header(&f, "X-Loop", "support@example.com");
	loops_scan(&p, &f.m, &d, A, &fl);
	CHECK(fl.own);
	policy_release(&p);

	msg_init(&f, "x", "");
	msg_header(&f, "X-Spam-Status", "Yes, score=7.2 required=5.0");
	fl = flags_of(&f);
	CHECK(fl.spam && fl.has_spam_score && fl.spam_score > 7.1 && fl.spam_score < 7.3);
	msg_init(&f, "x", "");
	msg_header(&f, "X-Rspamd-Score", "-1.5");
	fl = flags_of(&f);
	CHECK(!fl.spam && fl.has_spam_score && fl.spam_score < -1.4);
	msg_init(&f, "x", "");
	msg_header(&f, "X-Spam-Flag", "YES");
	CHECK(flags_of(&f).spam);
}

/* A Postfix-style report for one of our replies, two recipients, the
 * second one failed. */
static const char REPORT[] =
	"From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
	"To: support@example.com\r\n"
	"Subject: Delivery Status Notification (Failure)\r\n"
	"Message-ID: <report-1@mx.example.org>\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/report; report-type=delivery-status; boundary=\"x\"\r\n"
	"\r\n"
	"--x\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
	"--x\r\nContent-Type: message/delivery-status\r\n\r\n"
	"Reporting-MTA: dns; mx.example.org\r\n"
	"Arrival-Date: Mon, 16 Nov 2026 10:00:00 +0100\r\n"
	"\r\n"
	"Final-Recipient: rfc822; ok@example.net\r\n"
	"Action: delayed\r\n"
	"Status: 4.4.1\r\n"
	"\r\n"
	"Final-Recipient: rfc822; Gone@Example.net\r\n"
	"Original-Recipient: rfc822;gone@example.net\r\n"
	"Action: failed\r\n"
	"Status: 5.1.1 (user unknown)\r\n"
	"\r\n"
	"--x\r\nContent-Type: text/rfc822-headers\r\n\r\n"
	"From: Support <support@example.com>\r\n"
	"To: gone@example.net\r\n"
	"Subject: Re: [Ticket#2026112100001] Printer\r\n"
	"Message-ID: <agent-reply-7@helpdesk.example.com>\r\n"
	"\r\n"
	"--x--\r\n";

/* The report's fields as the message model gives them, set by hand. */
static void report_fields(struct msg_fixture *f)
{
	f->m.from.email = "MAILER-DAEMON@mx.example.org";
	f->m.is_dsn = true;
	f->m.dsn_original_message_id = "agent-reply-7@helpdesk.example.com";
	f->m.dsn_recipient = "Gone@Example.net";
	f->m.dsn_status = "5.1.1 (user unknown)";
	f->m.dsn_action = "failed";
}

TEST(delivery_report_parts)
{
	struct msg_fixture f;
	struct dsn_info d;
	struct message *msg = NULL;
	struct mime_options opt;
	struct err err = {0};

	/* the whole way: raw bytes, the model's fields, the store's form */
	mime_options_default(&opt);
	arena_reset(A);
	CHECK_INT(mime_parse(REPORT, sizeof(REPORT) - 1, &opt, A, &msg, &err), 0);
	if (msg) {
		dsn_scan(msg, A, &d);
		CHECK(d.is_dsn);
		CHECK_STR(d.dsn_original_message_id, "agent-reply-7@helpdesk.example.com");
		CHECK_STR(d.dsn_recipient, "gone@example.net");
		CHECK_STR(d.dsn_status, "5.1.1");
		CHECK_STR(d.dsn_action, "failed");
	}

	/* a report whose original's Message-ID is only quoted in its text */
	msg_init(&f, "Undeliverable", "The original message:\nMessage-ID: <agent-reply-9@x>\n");
	report_fields(&f);
	f.m.dsn_original_message_id = NULL;
	dsn_scan(&f.m, A, &d);
	CHECK(d.is_dsn);
	CHECK_STR(d.dsn_original_message_id, "agent-reply-9@x");

	/* no report at all: not a DSN */
	msg_init(&f, "x", "Message-ID: <not-from-a-bounce@x>\n");
	dsn_scan(&f.m, A, &d);
	CHECK(!d.is_dsn && d.dsn_original_message_id == NULL);

	/* a report-less bounce quoting the original's headers in its text */
	msg_init(&f, "failure notice", "Hi. This is the qmail-send program.\n"
		 "--- Below this line is a copy of the message.\n\n"
		 "Return-Path: <support@example.com>\nMessage-ID: <agent-reply-8@helpdesk.example.com>\n");
	f.m.from.email = "MAILER-DAEMON@old.example.org";
	dsn_scan(&f.m, A, &d);
	CHECK(!d.is_dsn);
	CHECK_STR(d.dsn_original_message_id, "agent-reply-8@helpdesk.example.com");
}

static int decide(struct msg_fixture *f, const struct ruleset *rs, struct plan *p)
{
	struct rules_env env = {.rules = rs, .policy = &P};
	struct err err = {0};
	arena_reset(A);
	return rules_decide(&env, &f->m, NULL, A, p, NULL, &err);
}

TEST(loop_guard_decisions)
{
	struct msg_fixture f;
	struct plan p;
	/* an auto-reply: a note on the ticket it answers, never a new ticket */
	msg_init(&f, "Abwesenheitsnotiz: Printer", "");
	msg_header(&f, "Auto-Submitted", "auto-replied");
	f.m.in_reply_to = "agent@x";
	CHECK_INT(decide(&f, NULL, &p), 0);
	CHECK_INT(p.action, PLAN_APPEND);
	CHECK_INT(p.article, PLAN_ARTICLE_NOTE);
	CHECK_INT(p.if_none, PLAN_FALLBACK_IGNORE);
	CHECK_INT(p.closed, PLAN_CLOSED_ATTACH);
	CHECK(p.followup && p.nrefs == 1);
	CHECK(p.loop && strstr(p.loop, "auto-reply (Auto-Submitted: auto-replied)"));
	P.auto_replies = LOOP_IGNORE;
	CHECK_INT(decide(&f, NULL, &p), 0);
	CHECK_INT(p.action, PLAN_IGNORE);
	CHECK(strstr(p.reason, "loop protection: auto-reply"));
	P.auto_replies = LOOP_TICKET;
	CHECK_INT(decide(&f, NULL, &p), 0);
	CHECK_INT(p.action, PLAN_CREATE_TICKET);
	CHECK(p.loop == NULL);
	P.auto_replies = LOOP_NOTE;

	/* bulk */
	msg_init(&f, "Newsletter", "");
	msg_header(&f, "List-Id", "<news.example.org>");
	CHECK_INT(decide(&f, NULL, &p), 0);
	CHECK_INT(p.action, PLAN_APPEND);
	CHECK(p.loop && strstr(p.loop, "bulk mail (List-Id)"));
	P.bulk = LOOP_TICKET;
	CHECK_INT(decide(&f, NULL, &p), 0);
	CHECK_INT(p.action, PLAN_CREATE_TICKET);
	P.bulk = LOOP_NOTE;

	/* our own address: ignored, whatever the rules say */
	policy_add_own_address(&P, "support@example.com");
	msg_init(&f, "loop", "");
	f.m.from.email = "support@example.com";
	struct err err = {0};
	struct ruleset *rs = rules_from("r.yaml", "statements:\n  - name: all\n    then: [ { create_ticket: { queue: X } } ]\n", &err);
	CHECK(rs != NULL);
	CHECK_INT(decide(&f, rs, &p), 0);
	CHECK_INT(p.action, PLAN_IGNORE);
	CHECK(strstr(p.reason, "from our own address support@example.com"));
	CHECK_INT(p.nstatements, 1); /* the rules ran, loop protection had the last word */

	/* a delivery report: a system article on the original's ticket, found by
	 * the original's Message-ID only */
	msg_init(&f, "Undelivered Mail", "");
	report_fields(&f);
	f.m.in_reply_to = "something@else";
	msg_header(&f, "Content-Type", "multipart/report; report-type=delivery-status");
	CHECK_INT(decide(&f, rs, &p), 0);
	CHECK_INT(p.action, PLAN_APPEND);
	CHECK_INT(p.article, PLAN_ARTICLE_SYSTEM);
	CHECK_INT(p.nrefs, 1);
	CHECK_STR(p.nrefs ? p.refs[0].value : "", "agent-reply-7@helpdesk.example.com");
	CHECK_STR(p.bounce_address, "gone@example.net");
	CHECK_STR(p.bounce_status, "5.1.1");
	P.bounces = BOUNCE_IGNORE;
	CHECK_INT(decide(&f, rs, &p), 0);
	CHECK_INT(p.action, PLAN_IGNORE);
	P.bounces = BOUNCE_ATTACH;

	/* a statement that ignores or rejects is not overridden */
	ruleset_free(&rs);
	rs = rules_from("r.yaml", "statements:\n  - name: drop\n    then: [ { reject: spam } ]\n", &err);
	CHECK_INT(decide(&f, rs, &p), 0);
	CHECK_INT(p.action, PLAN_REJECT);
	CHECK_STR(p.reason, "spam");
	CHECK(p.loop == NULL);
	ruleset_free(&rs);
}

int main(void)
{
	A = arena_new();
	policy_init(&P);
	mime_global_init();
	RUN(auto_reply_and_bulk_headers);
	RUN(bounces_own_addresses_spam);
	RUN(delivery_report_parts);
	RUN(loop_guard_decisions);
	policy_release(&P);
	mime_global_shutdown();
	regex_thread_release();
	arena_free(&A);
	return test_summary();
}
