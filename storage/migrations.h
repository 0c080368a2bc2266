/* Migrations compiled into the binary (see storage/embed-migrations.sh). */
#ifndef M2T_MIGRATIONS_H
#define M2T_MIGRATIONS_H

struct migration {
	unsigned version;     /* NNNN of NNNN_name.sql */
	const char *name;     /* "0001_initial" */
	const char *sql;
};

/* Sorted by version, ascending. */
extern const struct migration m2t_migrations[];
extern const unsigned m2t_migrations_count;

#endif
