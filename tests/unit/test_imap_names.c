/*
 * Mailbox names on the wire, against the scripted server: UTF-8 names from
 * the config go out in modified UTF-7 (SELECT, LIST, CREATE, STATUS, MOVE)
 * and LIST results are decoded before they are matched; names the server
 * spells invalidly match nothing.
 */
#include <signal.h>

#include "engine/util/log.h"
#include "engine/util/version.h"
#include "tests/unit/imap_script.h"

#define PODD "&BB8EPgQ0BDQENQRABDYEOgQw-"   /* Поддержка */

static void mutf7_names(struct imap_client *c)
{
	struct err err = {0};
	char *name = NULL;
	uint32_t uv, ex, n = 0;
	CHECK(imap_resolve_mailbox(c, "Поддержка", false, &name, &err) == 0);
	CHECK_STR(name, "Поддержка");
	free(name);
	CHECK(imap_resolve_mailbox(c, "Soporte/Técnico", true, &name, &err) == 0);
	CHECK_STR(name, "Soporte/Técnico");
	free(name);
	/* "." in the config, "/" on the server; an invalid spelling is skipped */
	CHECK(imap_resolve_mailbox(c, "INBOX.Ärger", false, &name, &err) == 0);
	CHECK_STR(name, "INBOX/Ärger");
	free(name);
	CHECK(imap_status_messages(c, "Soporte/Técnico", &n, &err) == 0);
	CHECK_INT(n, 7);
	CHECK(imap_select(c, "Поддержка", false, &uv, &ex, &err) == 0);
	uint32_t uid = 5;
	CHECK(imap_move(c, &uid, 1, "Soporte/Técnico", &err) == 0);
	/* a name that is not UTF-8 is refused before it is sent */
	CHECK(imap_resolve_mailbox(c, "Gr\xfc\xdf" "e", false, &name, &err) < 0);
	CHECK_INT(err.cls, ERR_FATAL);
}

TEST(names_sent_and_read_in_modified_utf7)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"),
		EXPECT("A0002 LIST \"\" \"\""),
		SEND("* LIST (\\Noselect) \"/\" \"\"\r\nA0002 OK x\r\n"),
		EXPECT("A0003 LIST \"\" \"" PODD "\""),
		SEND("* LIST () \"/\" " PODD "\r\nA0003 OK x\r\n"),
		EXPECT("A0004 LIST \"\" \"Soporte/T&AOk-cnico\""), SEND("A0004 OK x\r\n"),
		EXPECT("A0005 CREATE \"Soporte/T&AOk-cnico\""), SEND("A0005 OK created\r\n"),
		EXPECT("A0006 SUBSCRIBE \"Soporte/T&AOk-cnico\""), SEND("A0006 OK x\r\n"),
		EXPECT("A0007 LIST \"\" \"INBOX.&AMQ-rger\""), SEND("A0007 OK x\r\n"),
		EXPECT("A0008 LIST \"\" \"INBOX/&AMQ-rger\""),
		SEND("* LIST () \"/\" \"INBOX/&AMQ-rger\"\r\n"
		     "* LIST () \"/\" \"INBOX/\xc3\x84rger\"\r\n"
		     "A0008 OK x\r\n"),
		EXPECT("A0009 STATUS \"Soporte/T&AOk-cnico\" (MESSAGES)"),
		SEND("* STATUS \"Soporte/T&AOk-cnico\" (MESSAGES 7)\r\nA0009 OK x\r\n"),
		EXPECT("A0010 SELECT \"" PODD "\""),
		SEND("* 1 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\nA0010 OK [READ-WRITE] x\r\n"),
		EXPECT("A0011 UID MOVE 5 \"Soporte/T&AOk-cnico\""), SEND("A0011 OK moved\r\n"),
		LOGOUT_STEPS("A0012"), END,
	};
	session(steps, NULL, 0, mutf7_names);
}

static void bad_list_names(struct imap_client *c)
{
	struct err err = {0};
	char *name = NULL;
	CHECK(imap_resolve_mailbox(c, "Ärger", false, &name, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(name == NULL);
}

/* Raw 8-bit, a shifted printable letter, an unterminated run: none is "Ärger". */
TEST(invalid_list_names_match_nothing)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"),
		EXPECT("A0002 LIST \"\" \"\""),
		SEND("* LIST (\\Noselect) \"/\" \"\"\r\nA0002 OK x\r\n"),
		EXPECT("A0003 LIST \"\" \"&AMQ-rger\""),
		SEND("* LIST () \"/\" \"\xc3\x84rger\"\r\n* LIST () \"/\" \"&AMQAcg-ger\"\r\n"
		     "* LIST () \"/\" \"&AMQ\"\r\nA0003 OK x\r\n"),
		LOGOUT_STEPS("A0004"), END,
	};
	session(steps, NULL, 0, bad_list_names);
}

static void search_list(struct imap_client *c)
{
	struct err err = {0};
	uint32_t uv, ex;
	uint32_t *uids = NULL;
	size_t n = 0;
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	CHECK(imap_search_uids(c, "UNSEEN SUBJECT \"St\xc3\xb6rung\" FROM \"@v.example\"", &uids,
			       &n, &err) == 0);
	CHECK_INT(n, 3);
	struct imap_msg_info *v = NULL;
	size_t nv = 0;
	if (n == 3) {
		CHECK(imap_list_uids(c, uids, n, &v, &nv, &err) == 0);
		/* 12 was not asked for; 9 is gone meanwhile */
		CHECK_INT(nv, 2);
		if (nv == 2) {
			CHECK_INT(v[0].uid, 4);
			CHECK_INT(v[1].uid, 20);
			CHECK_INT(v[1].size, 200);
		}
	}
	free(v);
	free(uids);
	/* a search result that is not a UID fails the search */
	CHECK(imap_search_uids(c, "ALL", &uids, &n, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(uids == NULL);
}

/* 8-bit text goes as a literal (no UTF8=ACCEPT), with CHARSET UTF-8. */
TEST(search_then_list_found_uids)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"), SELECT_STEPS("A0002", 30),
		EXPECT("A0003 UID SEARCH CHARSET UTF-8 UNSEEN SUBJECT {8}"),
		SEND("+ go on\r\n"),
		EXPECT("St\xc3\xb6rung FROM \"@v.example\""),
		SEND("* SEARCH 20 4 9 4\r\nA0003 OK done\r\n"),
		EXPECT("A0004 UID FETCH 4,9,20 (UID RFC822.SIZE FLAGS)"),
		SEND("* 2 FETCH (UID 4 RFC822.SIZE 40 FLAGS ())\r\n"
		     "* 5 FETCH (UID 12 RFC822.SIZE 120 FLAGS ())\r\n"
		     "* 7 FETCH (UID 20 RFC822.SIZE 200 FLAGS ())\r\nA0004 OK done\r\n"),
		EXPECT("A0005 UID SEARCH ALL"),
		SEND("* SEARCH 1 x 3\r\nA0005 OK done\r\n"),
		LOGOUT_STEPS("A0006"), END,
	};
	session(steps, NULL, 0, search_list);
}

static void utf8_names(struct imap_client *c)
{
	struct err err = {0};
	char *name = NULL;
	uint32_t uv, ex;
	CHECK(imap_resolve_mailbox(c, "Поддержка", false, &name, &err) == 0);
	CHECK_STR(name, "Поддержка");
	free(name);
	CHECK(imap_select(c, "Поддержка", false, &uv, &ex, &err) == 0);
	uint32_t *uids = NULL;
	size_t n = 0;
	CHECK(imap_search_uids(c, "SUBJECT \"St\xc3\xb6rung\"", &uids, &n, &err) == 0);
	CHECK_INT(n, 1);
	free(uids);
}

/* ID and ENABLE when offered; after "* ENABLED UTF8=ACCEPT" names and search
 * strings go as UTF-8, and SEARCH has no CHARSET. */
TEST(id_and_utf8_accept)
{
	static const struct step steps[] = {
		LOGIN_STEPS("ID ENABLE UTF8=ACCEPT"),
		EXPECT("A0002 ID (\"name\" \"mail2ticket\" \"version\" \"" M2T_VERSION "\")"),
		SEND("* ID (\"name\" \"Dovecot\")\r\nA0002 OK ID done\r\n"),
		EXPECT("A0003 ENABLE UTF8=ACCEPT"),
		SEND("* ENABLED UTF8=ACCEPT\r\nA0003 OK enabled\r\n"),
		EXPECT("A0004 LIST \"\" \"\""),
		SEND("* LIST (\\Noselect) \"/\" \"\"\r\nA0004 OK x\r\n"),
		EXPECT("A0005 LIST \"\" \"Поддержка\""),
		/* a modified UTF-7 spelling is not what this server means now */
		SEND("* LIST () \"/\" " PODD "\r\n* LIST () \"/\" \"Поддержка\"\r\n"
		     "A0005 OK x\r\n"),
		EXPECT("A0006 SELECT \"Поддержка\""),
		SEND("* 0 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\nA0006 OK x\r\n"),
		/* UTF-8 in a quoted string, and no CHARSET (RFC 6855 section 3) */
		EXPECT("A0007 UID SEARCH SUBJECT \"St\xc3\xb6rung\""),
		SEND("* SEARCH 7\r\nA0007 OK x\r\n"),
		LOGOUT_STEPS("A0008"), END,
	};
	session(steps, NULL, 0, utf8_names);
}

static void utf7_after_enable(struct imap_client *c)
{
	struct err err = {0};
	uint32_t uv, ex;
	CHECK(imap_select(c, "Поддержка", false, &uv, &ex, &err) == 0);
}

/* ENABLE answered OK but without ENABLED (a server that does not know it):
 * names stay modified UTF-7; an ID refused is no failure. */
TEST(enable_not_confirmed_keeps_utf7)
{
	static const struct step steps[] = {
		LOGIN_STEPS("ID ENABLE UTF8=ACCEPT"),
		EXPECT("A0002 ID (\"name\" \"mail2ticket\" \"version\" \"" M2T_VERSION "\")"),
		SEND("A0002 BAD what\r\n"),
		EXPECT("A0003 ENABLE UTF8=ACCEPT"), SEND("A0003 OK nothing enabled\r\n"),
		EXPECT("A0004 SELECT \"" PODD "\""),
		SEND("* 0 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\nA0004 OK x\r\n"),
		LOGOUT_STEPS("A0005"), END,
	};
	session(steps, NULL, 0, utf7_after_enable);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_ERROR);
	RUN(names_sent_and_read_in_modified_utf7);
	RUN(invalid_list_names_match_nothing);
	RUN(search_then_list_found_uids);
	RUN(id_and_utf8_accept);
	RUN(enable_not_confirmed_keeps_utf7);
	log_clear_secrets();
	return test_summary();
}
