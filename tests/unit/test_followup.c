/*
 * Follow-up references read from a mail (rules/followup.c): subject tags
 * in the default and a configured format, localized reply prefixes, the
 * subject key, In-Reply-To and References (order, duplicates, junk), the
 * hidden body marker in text and HTML, other systems' tags, and the order
 * of the plan's refs.
 */
#include <string.h>

#include "engine/util/arena.h"
#include "rules/followup.h"
#include "rules/policy.h"
#include "rules/decide.h"
#include "rules/regex.h"
#include "tests/unit/rules_fixture.h"
#include "tests/unit/test.h"

static struct arena *A;
static struct regex_limits L;
static const struct regex_limits *M = &L;
static struct policy P;

static const char *key(const char *subject, bool *reply)
{
	return followup_subject_key(&P, M, subject, A, reply, NULL);
}

TEST(reply_prefixes_in_many_languages)
{
	static const char *const replies[] = {
		"Re: Printer broken", "RE: Printer broken", "AW: Printer broken",
		"Aw:Printer broken", "SV: Printer broken", "VS: Printer broken",
		"Antw: Printer broken", "Odp: Printer broken", "YNT: Printer broken",
		"回复：Printer broken", "答复: Printer broken", "Re[2]: Printer broken",
		"Re^3: Printer broken", "Re (4): Printer broken", "Fwd: Re: Printer broken",
		"  re :  Printer   broken ", "RE: AW: SV: [Ticket#2026112100001] Printer broken",
		"Ответ: Printer broken", "R: Printer broken", "RIF: Printer broken",
	};
	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		bool reply = false;
		const char *k = key(replies[i], &reply);
		if (!reply || strcmp(k, "printer broken") != 0)
			fprintf(stderr, "  \"%s\" -> reply=%d key=\"%s\"\n", replies[i], reply, k);
		CHECK(reply);
		CHECK_STR(k, "printer broken");
	}
	bool reply = true;
	CHECK_STR(key("Fwd: Printer broken", &reply), "printer broken");
	CHECK(!reply);
	CHECK_STR(key("WG: Printer broken", &reply), "printer broken");
	CHECK(!reply);
	CHECK_STR(key("Reinstall: Windows", &reply), "reinstall: windows");
	CHECK(!reply);
	CHECK_STR(key("Regarding: Re: invoice", &reply), "regarding: re: invoice");
	CHECK(!reply);
	CHECK_STR(key("", &reply), "");
	CHECK_STR(key("ÄRGER mit dem Drucker", &reply), "ärger mit dem drucker");
}

TEST(configured_reply_prefixes)
{
	struct err err = {0};
	const char *words[] = {"Antwort", "Réponse"};
	struct policy p;
	policy_init(&p);
	CHECK_INT(policy_set_reply_prefixes(&p, words, 2, &err), 0);
	bool reply;
	followup_subject_key(&p, M, "Réponse: x", A, &reply, NULL);
	CHECK(reply);
	followup_subject_key(&p, M, "Re: x", A, &reply, NULL);
	CHECK(!reply);
	const char *bad[] = {"Re:"};
	CHECK_INT(policy_set_reply_prefixes(&p, bad, 1, &err), -1);
	policy_release(&p);
}

TEST(subject_tags_and_formats)
{
	struct msg_fixture f;
	struct followup_info fi;
	struct err err = {0};
	msg_init(&f, "Re: [Ticket#2026112100001] and [ticket#2026112100002] and [Ticket#12]", "");
	CHECK_INT(followup_scan(&P, M, &f.m, A, &fi, &err), 0);
	CHECK_INT(fi.nnumbers, 2);
	CHECK_STR(fi.nnumbers > 1 ? fi.numbers[1] : "", "2026112100002");
	CHECK(fi.reply_prefix);

	struct policy p;
	policy_init(&p);
	CHECK_INT(policy_set_subject_tag(&p, "Case {number}:", &err), 0);
	msg_init(&f, "Update Case   2026112100009: printer", "");
	CHECK_INT(followup_scan(&p, M, &f.m, A, &fi, &err), 0);
	CHECK_INT(fi.nnumbers, 1);
	CHECK_STR(fi.numbers[0], "2026112100009");
	CHECK_INT(policy_set_subject_tag(&p, "no number", &err), -1);
	CHECK_INT(policy_set_subject_tag(&p, "{number}{number}", &err), -1);
	CHECK_INT(policy_set_subject_tag(&p, NULL, &err), 0);
	CHECK_INT(followup_scan(&p, M, &f.m, A, &fi, &err), 0);
	CHECK_INT(fi.nnumbers, 0);
	policy_release(&p);
}

TEST(references_order_and_junk)
{
	struct msg_fixture f;
	struct followup_info fi;
	struct err err = {0};
	msg_init(&f, "x", "");
	f.m.in_reply_to = "c@x";
	f.m.references = "<a@x> junk <b@x>\n <bad id@x> <c@x> <>";
	CHECK_INT(followup_scan(&P, M, &f.m, A, &fi, &err), 0);
	CHECK_INT(fi.nmsgids, 3);
	if (fi.nmsgids == 3) {
		CHECK_STR(fi.msgids[0], "c@x");
		CHECK_STR(fi.msgids[1], "b@x");
		CHECK_STR(fi.msgids[2], "a@x");
	}
	CHECK(followup_any(&fi));
	/* a long thread keeps its newest ids */
	char refs[8192] = "";
	for (int i = 0; i < 100; i++)
		snprintf(refs + strlen(refs), sizeof(refs) - strlen(refs), "<m%d@x> ", i);
	f.m.in_reply_to = NULL;
	f.m.references = refs;
	CHECK_INT(followup_scan(&P, M, &f.m, A, &fi, &err), 0);
	CHECK_INT(fi.nmsgids, FOLLOWUP_MAX_IDS);
	CHECK_STR(fi.msgids[0], "m99@x");
	/* references: false */
	struct policy p;
	policy_init(&p);
	p.references = false;
	CHECK_INT(followup_scan(&p, M, &f.m, A, &fi, &err), 0);
	CHECK_INT(fi.nmsgids, 0);
	policy_release(&p);
}

TEST(body_marker_and_foreign_tags)
{
	struct msg_fixture f;
	struct followup_info fi;
	struct err err = {0};
	msg_init(&f, "Vendor [SUP-1234] update", "thanks\n> [m2t:2026112100004]\n");
	f.m.html = "<p>x</p><span style=\"display:none\">[M2T:2026112100005]</span>";
	f.m.html_len = strlen(f.m.html);
	struct policy p;
	policy_init(&p);
	size_t off;
	CHECK_INT(policy_add_foreign_tag(&p, "jira", "\\[(?<ref>SUP-\\d+)\\]", false, &off, &err), 0);
	CHECK_INT(policy_add_foreign_tag(&p, "rt", "RT#(\\d+)", true, &off, &err), 0);
	CHECK_INT(followup_scan(&p, M, &f.m, A, &fi, &err), 0);
	CHECK_INT(fi.nmarkers, 2);
	CHECK_STR(fi.markers[0], "2026112100004");
	CHECK_STR(fi.markers[1], "2026112100005");
	CHECK_INT(fi.nforeign, 1);
	CHECK_STR(fi.foreign[0].system, "jira");
	CHECK_STR(fi.foreign[0].ref, "SUP-1234");
	msg_init(&f, "no tag", "see RT#998 please");
	CHECK_INT(followup_scan(&p, M, &f.m, A, &fi, &err), 0);
	CHECK_INT(fi.nforeign, 1);
	CHECK_STR(fi.nforeign ? fi.foreign[0].ref : "", "998");
	CHECK(!fi.reply_prefix);
	policy_release(&p);
}

TEST(plan_refs_in_order)
{
	struct msg_fixture f;
	struct followup_info fi;
	struct err err = {0};
	struct plan plan;
	msg_init(&f, "AW: [Ticket#2026112100001] Printer", "[m2t:2026112100002]");
	f.m.in_reply_to = "r@x";
	CHECK_INT(followup_scan(&P, M, &f.m, A, &fi, &err), 0);
	memset(&plan, 0, sizeof(plan));
	followup_plan_refs(&P, &fi, A, &plan);
	CHECK_INT(plan.nrefs, 4);
	if (plan.nrefs == 4) {
		CHECK_INT(plan.refs[0].kind, PLAN_REF_NUMBER);
		CHECK_INT(plan.refs[1].kind, PLAN_REF_MESSAGE_ID);
		CHECK_INT(plan.refs[2].kind, PLAN_REF_MARKER);
		CHECK_INT(plan.refs[3].kind, PLAN_REF_SUBJECT);
		CHECK_STR(plan.refs[3].value, "printer");
		CHECK_INT(plan.refs[3].days, 14);
	}
	/* without a reply prefix, no subject ref */
	msg_init(&f, "Printer", "");
	CHECK_INT(followup_scan(&P, M, &f.m, A, &fi, &err), 0);
	followup_plan_refs(&P, &fi, A, &plan);
	CHECK_INT(plan.nrefs, 0);
	CHECK(!followup_any(&fi));
}

int main(void)
{
	A = arena_new();
	rules_regex_limits(&L);
	policy_init(&P);
	RUN(reply_prefixes_in_many_languages);
	RUN(configured_reply_prefixes);
	RUN(subject_tags_and_formats);
	RUN(references_order_and_junk);
	RUN(body_marker_and_foreign_tags);
	RUN(plan_refs_in_order);
	policy_release(&P);
	regex_thread_release();
	arena_free(&A);
	return test_summary();
}
