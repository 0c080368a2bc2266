/*
 * PostgreSQL's binary array format (what array_recv reads), built one
 * element at a time: the header's size is known up front (20 bytes for one
 * dimension), so space for it is kept at the start and filled in when the
 * column is sent; the elements are copied once, straight into the value
 * libpq sends. Arrays go binary so attachment bytes and mail text need no
 * quoting or escaping at all.
 *
 * SECURITY: the elements are mail text and bytes. Nothing here builds SQL;
 * every length is checked against the column's cap (at most 1 GB).
 */
#include "storage/store_cols.h"

#include <string.h>

/* ndim, has-null flag, element type, then per dimension size and lower bound. */
#define HEADER_1D 20
#define HEADER_0D 12

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

void store_col_init(struct store_col *c, unsigned oid, size_t max)
{
	memset(c, 0, sizeof(*c));
	c->oid = oid;
	buf_init(&c->b, max);
	store_col_reset(c);
}

void store_col_release(struct store_col *c)
{
	buf_release(&c->b);
}

void store_col_reset(struct store_col *c)
{
	static const unsigned char zero[HEADER_1D];
	buf_reset(&c->b);
	c->b.failed = false;
	buf_add(&c->b, zero, sizeof(zero));
	c->n = 0;
	c->has_null = false;
}

void store_col_add(struct store_col *c, const void *data, size_t len)
{
	unsigned char l[4];
	if (!data) {
		put_u32(l, UINT32_MAX); /* -1: NULL */
		c->has_null = true;
		buf_add(&c->b, l, sizeof(l));
	} else if (len >= ((size_t)1 << 30)) {
		c->b.failed = true;
	} else {
		put_u32(l, (uint32_t)len);
		buf_add(&c->b, l, sizeof(l));
		buf_add(&c->b, data, len);
	}
	c->n++;
}

void store_col_add_i64(struct store_col *c, int64_t v)
{
	unsigned char b[8];
	uint64_t u = (uint64_t)v;
	put_u32(b, (uint32_t)(u >> 32));
	put_u32(b + 4, (uint32_t)u);
	store_col_add(c, b, sizeof(b));
}

void store_col_add_i32(struct store_col *c, int32_t v)
{
	unsigned char b[4];
	put_u32(b, (uint32_t)v);
	store_col_add(c, b, sizeof(b));
}

void store_col_add_bool(struct store_col *c, bool v)
{
	store_col_add(c, v ? "\1" : "\0", 1); /* bool's binary form: one byte */
}

bool store_col_failed(const struct store_col *c)
{
	return c->b.failed || c->n > INT32_MAX;
}

size_t store_col_bytes(const struct store_col *c)
{
	return c->b.len;
}

void store_col_mark(const struct store_col *c, struct store_col_mark *m)
{
	m->len = c->b.len;
	m->n = c->n;
	m->has_null = c->has_null;
}

void store_col_restore(struct store_col *c, const struct store_col_mark *m)
{
	c->b.len = m->len;
	if (c->b.data)
		c->b.data[m->len] = '\0';
	c->b.failed = false;
	c->n = m->n;
	c->has_null = m->has_null;
}

void store_col_finish(struct store_col *c, const char **value_r, int *len_r)
{
	unsigned char *p = (unsigned char *)c->b.data;
	if (c->n == 0) {
		/* An empty array has no dimensions: a shorter header, at its end. */
		p += HEADER_1D - HEADER_0D;
		put_u32(p, 0);
		put_u32(p + 4, 0);
		put_u32(p + 8, c->oid);
		*value_r = (const char *)p;
		*len_r = HEADER_0D;
		return;
	}
	put_u32(p, 1);
	put_u32(p + 4, c->has_null ? 1 : 0);
	put_u32(p + 8, c->oid);
	put_u32(p + 12, (uint32_t)c->n);
	put_u32(p + 16, 1);
	*value_r = c->b.data;
	*len_r = (int)c->b.len;
}
