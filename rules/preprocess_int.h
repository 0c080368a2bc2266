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

/* Reply and forward prefixes of subjects (preprocess_run.c). */
bool pp_subject_is_forward(const char *subject);
bool pp_subject_is_reply(const char *subject);

#endif
