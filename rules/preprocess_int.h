/*
 * Preprocessing internals shared by rules/preprocess_*.c only: the compiled
 * form of stages and rules. Everything is owned by struct preprocess and
 * never changes after compile, so threads share it without locks.
 */
#ifndef M2T_PREPROCESS_INT_H
#define M2T_PREPROCESS_INT_H

#include "rules/preprocess.h"
#include "rules/regex.h"

enum pp_action {
	PP_REMOVE_MATCH,  /* the match (or its `group`) */
	PP_REMOVE_LINE,   /* every line the match touches, with its line end */
	PP_CUT_AFTER,     /* from the match's start to the end */
	PP_CUT_BEFORE,    /* from the start to the match's end */
	PP_KEEP_AFTER,    /* from the match's start on, nothing may be removed */
};

enum pp_forward {
	PP_FWD_ANY,       /* the rule applies to every message */
	PP_FWD_ONLY,      /* only when the subject says it is a forward */
	PP_FWD_NEVER,     /* never when the subject says it is a forward */
};

struct pp_rule {
	char *name;
	char *file;
	unsigned line, column;
	struct regex *re;
	enum pp_action action;
	int group;              /* capture group that is the range; 0: the match */
	bool needs_text_before; /* only when non-blank text precedes the match */
	bool at_end;            /* only when nothing but white space follows it */
	enum pp_forward forward;
};

struct pp_header_cond {
	char *name;
	struct regex *re;
};

/* A pack's `when:`: any one of these makes the stage run. */
struct pp_when {
	bool set;
	char **clients;
	size_t nclients;
	struct pp_header_cond *headers;
	size_t nheaders;
	char **html;            /* substrings of the HTML body */
	size_t nhtml;
};

enum pp_kind {
	PP_STAGE_RULES,
	PP_STAGE_HTML_TO_TEXT,
	PP_STAGE_WHITESPACE,
};

struct pp_stage {
	char *name;
	enum pp_kind kind;
	char *file;
	unsigned line, column;
	bool only_replies;
	char **clients;         /* `client: [ids]`: only for these detected clients */
	size_t nclients;
	struct pp_when when;
	bool detects_client;    /* a match of `when` by headers/HTML names the client */
	struct pp_rule *rules;
	size_t nrules;
};

struct preprocess {
	struct pp_stage *stages;
	size_t nstages;
	struct preprocess_limits lim;
};

/* Caps on what a rule file may ask for. */
#define PP_MAX_STAGES 200
#define PP_MAX_RULES 2000

/* Stage conditions (preprocess_when.c). marks[i], for each stage with a
 * `when`: PP_MARK_HEADERS when one of its header regexes matched,
 * PP_MARK_HTML when one of its HTML markers is in the HTML part. */
#define PP_MARK_HEADERS 1u
#define PP_MARK_HTML 2u
void pp_marks_fill(const struct preprocess *pp, const struct message *msg, unsigned char *marks);
/* msg->client, else the first pack whose headers matched, else the first
 * whose HTML markers did; NULL when none. */
const char *pp_client_detect(const struct preprocess *pp, const struct message *msg,
			     const unsigned char *marks);
bool pp_stage_applies(const struct pp_stage *st, const char *client, bool is_reply,
		      unsigned char mark);

/* Reply and forward prefixes of subjects (preprocess_subject.c). */
bool pp_subject_is_forward(const char *subject);
bool pp_subject_is_reply(const char *subject);

#endif
