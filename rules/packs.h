/* Rule packs compiled into the binary (see rules/embed-packs.sh). */
#ifndef M2T_PACKS_H
#define M2T_PACKS_H

struct pack_source {
	const char *name;  /* "gmail" for rules/packs/gmail.yaml */
	const char *yaml;
};

/* Sorted by name. */
extern const struct pack_source m2t_packs[];
extern const unsigned m2t_packs_count;

#endif
