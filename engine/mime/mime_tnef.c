/*
 * winmail.dat (application/ms-tnef) ► real attachments, with libytnef (the
 * only user of libytnef in the tree). Outlook sends TNEF when "rich text"
 * is on; without unpacking, the customer's files are one opaque blob.
 *
 * SECURITY: TNEF is untrusted binary input, and libytnef trusts it more
 * than we do: it allocates each attribute's declared size before reading
 * it (4 bytes can ask for 4 GB), prints to stdout on malformed input, and
 * leaks when an attribute repeats. So before libytnef sees a byte, tnef_check()
 * walks the stream and builds a copy holding only records that are
 *   - complete (length within the bytes that remain) with a good checksum,
 *   - not repeated within their message or attachment,
 *   - not attachment attributes before the first attachment,
 *   - for MAPI property blocks: well-formed by the same rules libytnef
 *     applies (counts, types, sizes, exact length), so its parser never
 *     takes an error path.
 * Everything after the first broken record is dropped. The number of files
 * is capped (max_parts) before parsing; their sizes are bounded by the part
 * itself. Results are copied into the arena; libytnef's memory is freed here.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ytnef.h>

#include "engine/mime/mime_internal.h"
#include "engine/util/xalloc.h"

#define TNEF_SIGNATURE 0x223E9F78u
/* Records looked at per stream; Outlook writes a few dozen per file. */
#define TNEF_RECORDS_MAX 65536
/*
 * Files per stream, whatever max_parts says: libytnef walks its list of
 * attachments from the start for every attachment record, so its cost
 * grows with records times files.
 */
#define TNEF_FILES_MAX 1000
/*
 * libytnef 2.0's own caps (Debian bookworm): above them it fails the whole
 * stream and prints, so records that would pass them are dropped first.
 */
#define YTNEF_RECORD_MAX (50u * 1024 * 1024)
#define YTNEF_PROPS_MAX 1000
#define YTNEF_VALUES_MAX 1000
#define YTNEF_NAMES_MAX 1000
#define YTNEF_NAME_MAX 100
#define YTNEF_VALUE_MAX 524288
#define YTNEF_SUBJECT_MAX 100
#define YTNEF_SHORT_MAX 100      /* title, from, subject, original class */
#define YTNEF_BODY_MAX 100000
#define YTNEF_ICON_MAX 10000
#define YTNEF_DTR_SIZE 14
#define NAME_MAX_BYTES 1024

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static size_t pad4(size_t n)
{
	return n + ((n % 4) ? 4 - n % 4 : 0);
}

static bool is_subject_prop(uint32_t id)
{
	return id == 0x0037 || id == 0x0039 || id == 0x0049 || id == 0x0E1D || id == 0x0070;
}

/*
 * A MAPI property block exactly as libytnef's TNEFFillMapi reads it, so that
 * it can never fail (or print) on a block we pass. *subject_set follows
 * libytnef's "subject already known" state, which decides whether a
 * subject property is checked against its 100-byte cap; it changes only
 * when the block passes.
 */
static bool mapi_ok(const unsigned char *d, size_t size, bool *subject_set)
{
	size_t o = 0;
	bool subj = *subject_set;
#define NEED(x) do { if ((x) > size - o) return false; } while (0)
	NEED(4);
	uint32_t count = le32(d + o);
	o += 4;
	if (count == 0 || count > YTNEF_PROPS_MAX)
		return false;
	for (uint32_t i = 0; i < count; i++) {
		NEED(4);
		uint32_t id = le32(d + o);
		o += 4;
		if (PROP_ID(id) >= 0x8000) {
			NEED(16);
			o += 16;
			NEED(4);
			uint32_t names = le32(d + o);
			o += 4;
			if (names > YTNEF_NAMES_MAX || names > (size - o) / 4)
				return false;
			for (uint32_t k = 0; k < names; k++) {
				NEED(4);
				uint32_t nl = le32(d + o);
				o += 4;
				if (nl == 0 || nl > YTNEF_NAME_MAX)
					return false;
				NEED(nl);
				o += pad4(nl);
				if (o > size)
					return false;
			}
			if (names == 0) {
				NEED(4);
				o += 4;
			}
		}
		uint32_t type = PROP_TYPE(id);
		uint32_t values = 1;
		bool multi = (type & MV_FLAG) != 0;
		if (multi) {
			type -= MV_FLAG;
			NEED(4);
			values = le32(d + o);
			o += 4;
		}
		if (values == 0 || values > YTNEF_VALUES_MAX)
			return false;
		for (uint32_t v = 0; v < values; v++) {
			uint32_t vsize;
			switch (type) {
			case PT_BINARY:
			case PT_OBJECT:
			case PT_STRING8:
			case PT_UNICODE: {
				if (!multi) {
					NEED(4); /* the value count, always 1 */
					o += 4;
				}
				NEED(4);
				uint32_t vs = le32(d + o);
				o += 4;
				if (vs > YTNEF_VALUE_MAX)
					return false;
				vsize = vs;
				NEED(vs);
				o += pad4(vs);
				if (o > size)
					return false;
				break;
			}
			case PT_I2:
				NEED(2);
				o += 4;
				vsize = 2;
				break;
			case PT_BOOLEAN:
			case PT_LONG:
			case PT_R4:
			case PT_CURRENCY:
			case PT_APPTIME:
			case PT_ERROR:
				NEED(4);
				o += 4;
				vsize = 4;
				break;
			case PT_DOUBLE:
			case PT_I8:
			case PT_SYSTIME:
				NEED(8);
				o += 8;
				vsize = 8;
				break;
			case PT_CLSID:
				NEED(16);
				o += 16;
				vsize = 16;
				break;
			default:
				return false;
			}
			if (o > size)
				return false;
			if (is_subject_prop(PROP_ID(id)) && !subj) {
				if (vsize == 0 || vsize > YTNEF_SUBJECT_MAX)
					return false;
				subj = true;
			}
		}
	}
#undef NEED
	if (o != size)
		return false;
	*subject_set = subj;
	return true;
}

/* attSentFor: (name length, name, address length, address) pairs. */
static bool sentfor_ok(const unsigned char *d, size_t size)
{
	size_t o = 0;
	while (o < size) {
		for (int k = 0; k < 2; k++) {
			if (size - o < 2)
				return false;
			size_t n = le16(d + o);
			o += 2;
			if (n > size - o)
				return false;
			o += n;
		}
	}
	return true;
}

static bool is_date_attr(uint32_t id)
{
	return id == attDateSent || id == attDateRecd || id == attAttachCreateDate ||
	       id == attAttachModifyDate || id == attDateModified || id == attDateStart ||
	       id == attDateEnd;
}

/* What libytnef's handler for this record would refuse (and print about). */
static bool record_ok(uint32_t id, const unsigned char *data, uint32_t size, bool *subject_set)
{
	if (is_date_attr(id))
		return size >= YTNEF_DTR_SIZE;
	switch (id) {
	case attTnefVersion: return size == 4;
	case attAttachTitle:
	case attFrom:
	case attOriginalMessageClass: return size <= YTNEF_SHORT_MAX;
	case attSubject:
		if (size > YTNEF_SHORT_MAX)
			return false;
		*subject_set = true;
		return true;
	case attBody: return size <= YTNEF_BODY_MAX;
	case attAttachMetaFile: return size <= YTNEF_ICON_MAX;
	case attRecipTable: return size >= 4;
	case attSentFor: return sentfor_ok(data, size);
	case attMAPIProps:
	case attAttachment: return mapi_ok(data, size, subject_set);
	default: return true;
	}
}

/* Attributes that describe the current attachment (libytnef: "last one"). */
static int attach_attr_slot(uint32_t id)
{
	switch (id) {
	case attAttachData: return 0;
	case attAttachTitle: return 1;
	case attAttachMetaFile: return 2;
	case attAttachCreateDate: return 3;
	case attAttachModifyDate: return 4;
	case attAttachTransportFilename: return 5;
	case attAttachment: return 6;
	default: return -1;
	}
}

/* Message attributes libytnef allocates for (a repeat would leak). */
static int message_attr_slot(uint32_t id)
{
	switch (id) {
	case attFrom: return 0;
	case attSubject: return 1;
	case attBody: return 2;
	case attMAPIProps: return 3;
	case attOemCodepage: return 4;
	case attOriginalMessageClass: return 5;
	default: return -1;
	}
}

/*
 * The sanitized copy described at the top. Returns its length (0: nothing
 * usable) and the number of attachments in *nattach_r; *out_r is malloc'd.
 */
static size_t tnef_check(const unsigned char *in, size_t len, unsigned char **out_r,
			 size_t *nattach_r)
{
	unsigned char *out;
	size_t o = 6, i = 6, records = 0, nattach = 0;
	unsigned msg_seen = 0, att_seen = 0;
	bool subject_set = false;

	*out_r = NULL;
	*nattach_r = 0;
	if (len < 6 || le32(in) != TNEF_SIGNATURE)
		return 0;
	out = xmalloc(len);
	memcpy(out, in, 6);
	while (len - i >= 9 && records++ < TNEF_RECORDS_MAX) {
		uint32_t id = le32(in + i + 1);
		uint32_t size = le32(in + i + 5);
		/* libytnef refuses empty attributes; its handlers take int sizes */
		if (size == 0 || size > len - i - 9 || len - i - 9 - size < 2 ||
		    size > YTNEF_RECORD_MAX)
			break;
		const unsigned char *data = in + i + 9;
		uint16_t sum = 0;
		for (uint32_t k = 0; k < size; k++)
			sum = (uint16_t)(sum + data[k]);
		if (sum != le16(data + size))
			break;
		size_t rec = 9 + (size_t)size + 2;
		bool keep = true;
		int slot;
		if (id == attAttachRenddata) {
			nattach++;
			att_seen = 0;
		} else if ((slot = attach_attr_slot(id)) >= 0) {
			keep = nattach > 0 && !(att_seen & (1u << slot));
			att_seen |= 1u << slot;
		} else if ((slot = message_attr_slot(id)) >= 0) {
			keep = !(msg_seen & (1u << slot));
			msg_seen |= 1u << slot;
		}
		if (keep)
			keep = record_ok(id, data, size, &subject_set);
		if (keep) {
			memcpy(out + o, in + i, rec);
			o += rec;
		}
		i += rec;
	}
	*out_r = out;
	*nattach_r = nattach;
	return o;
}

/* A found MAPI value, NULL when absent (libytnef says MAPI_UNDEFINED). */
static variableLength *prop_find(MAPIProps *p, uint32_t type, uint32_t id)
{
	variableLength *v = MAPIFindProperty(p, PROP_TAG(type, id));
	return v == MAPI_UNDEFINED || !v || !v->data ? NULL : v;
}

/* "CP1252"-style names for Windows code pages, as glibc's iconv knows them. */
static const char *codepage_name(uint32_t cp, char *buf, size_t n)
{
	switch (cp) {
	case 0: return NULL;
	case 65001: return "UTF-8";
	case 20127: return "US-ASCII";
	case 28591: return "ISO-8859-1";
	case 20866: return "KOI8-R";
	case 21866: return "KOI8-U";
	case 50220: case 50221: case 50222: return "ISO-2022-JP";
	case 51932: return "EUC-JP";
	case 51949: return "EUC-KR";
	case 936: return "GB18030";
	case 54936: return "GB18030";
	default:
		snprintf(buf, n, "CP%u", cp);
		return buf;
	}
}

/* A string property (UNICODE is UTF-8 already, STRING8 is in the code page). */
static const char *prop_string(struct arena *a, MAPIProps *p, uint32_t id, const char *cs,
			       size_t max)
{
	variableLength *v = prop_find(p, PT_UNICODE, id);
	if (v) /* libytnef's to_utf8 output is NUL-terminated */
		return mime_utf8_clean(a, (const char *)v->data, strlen((const char *)v->data), true,
				       max, NULL, NULL);
	v = prop_find(p, PT_STRING8, id);
	if (v && v->size > 0)
		return mime_text_to_utf8(a, (const char *)v->data,
					 strnlen((const char *)v->data, (size_t)v->size), cs, NULL,
					 max, NULL, NULL);
	return NULL;
}

static const char *lower(char *s)
{
	for (char *p = s; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + ('a' - 'A'));
	return s;
}

static void file_fill(struct arena *a, Attachment *p, const char *cs, size_t index,
		      struct tnef_file *f)
{
	const char *name = prop_string(a, &p->MAPI, PR_ATTACH_LONG_FILENAME, cs, NAME_MAX_BYTES);
	if ((!name || !*name) && p->Title.size > 0)
		name = mime_text_to_utf8(a, (const char *)p->Title.data,
					 strnlen((const char *)p->Title.data, (size_t)p->Title.size),
					 cs, NULL, NAME_MAX_BYTES, NULL, NULL);
	if (!name || !*name)
		name = arena_printf(a, "attachment-%zu", index + 1);
	/* a file name, not a path */
	char *fn = arena_strdup(a, name);
	for (char *c = fn; *c; c++)
		if (*c == '/' || *c == '\\' || (unsigned char)*c < 0x20)
			*c = '_';
	f->filename = fn;
	const char *mt = prop_string(a, &p->MAPI, PR_ATTACH_MIME_TAG, cs, 255);
	f->content_type = mt && *mt && strchr(mt, '/') ? lower(arena_strdup(a, mt))
						       : "application/octet-stream";
	const char *cid = prop_string(a, &p->MAPI, PR_ATTACH_CONTENT_ID, cs, NAME_MAX_BYTES);
	if (cid && *cid) {
		size_t n = strlen(cid);
		if (n >= 2 && cid[0] == '<' && cid[n - 1] == '>')
			cid = arena_memdup0(a, cid + 1, n - 2);
		f->content_id = cid;
	}
}

/* The file's bytes: attAttachData, else PR_ATTACH_DATA_OBJ (an OLE object after its IID). */
static bool file_data(Attachment *p, const unsigned char **d_r, size_t *n_r)
{
	if (p->FileData.size > 0 && p->FileData.data) {
		*d_r = p->FileData.data;
		*n_r = (size_t)p->FileData.size;
		return true;
	}
	variableLength *v = prop_find(&p->MAPI, PT_BINARY, PR_ATTACH_DATA_OBJ);
	if (v && v->size > 0) {
		*d_r = v->data;
		*n_r = (size_t)v->size;
		return true;
	}
	v = prop_find(&p->MAPI, PT_OBJECT, PR_ATTACH_DATA_OBJ);
	if (v && v->size > 16) {
		*d_r = v->data + 16;
		*n_r = (size_t)v->size - 16;
		return true;
	}
	return false;
}

static void body_fill(struct arena *a, TNEFStruct *t, const char *cs, size_t max,
		      struct tnef_result *res)
{
	if (t->body.size > 0 && t->body.data) {
		res->text = mime_text_to_utf8(a, (const char *)t->body.data, (size_t)t->body.size,
					      cs, NULL, max, &res->text_len, NULL);
	} else {
		const char *b = prop_string(a, &t->MapiProperties, PR_BODY, cs, max);
		if (b && *b) {
			res->text = b;
			res->text_len = strlen(b);
		}
	}
	variableLength *h = prop_find(&t->MapiProperties, PT_BINARY, PR_BODY_HTML);
	if (!h)
		h = prop_find(&t->MapiProperties, PT_STRING8, PR_BODY_HTML);
	if (h && h->size > 0) {
		char cpbuf[16];
		variableLength *cpid = prop_find(&t->MapiProperties, PT_LONG, PR_INTERNET_CPID);
		const char *hcs = cpid && cpid->size >= 4 ? codepage_name(le32(cpid->data), cpbuf,
									  sizeof(cpbuf))
							 : cs;
		res->html = mime_text_to_utf8(a, (const char *)h->data,
					      strnlen((const char *)h->data, (size_t)h->size), hcs,
					      NULL, max, &res->html_len, NULL);
	}
}

int mime_tnef_unpack(struct arena *a, const unsigned char *data, size_t len, size_t max_files,
		     size_t max_text, struct tnef_result *res)
{
	unsigned char *clean = NULL;
	size_t nattach, n;
	TNEFStruct t;
	char cpbuf[16];
	int rc = -1;

	memset(res, 0, sizeof(*res));
	n = tnef_check(data, len, &clean, &nattach);
	if (n == 0)
		goto out;
	if (nattach > max_files || nattach > TNEF_FILES_MAX) {
		rc = -2;
		goto out;
	}
	TNEFInitialize(&t);
	t.Debug = 0;
	if (TNEFParseMemory(clean, (long)n, &t) != 0) {
		/* cannot happen for a checked stream short of memory: keep the blob */
		TNEFFree(&t);
		goto out;
	}
	const char *cs = t.CodePage.size >= 4
				 ? codepage_name(le32(t.CodePage.data), cpbuf, sizeof(cpbuf))
				 : NULL;
	size_t count = 0;
	for (Attachment *p = t.starting_attach.next; p; p = p->next)
		count++;
	res->files = count ? arena_alloc(a, count * sizeof(*res->files)) : NULL;
	size_t idx = 0;
	for (Attachment *p = t.starting_attach.next; p; p = p->next, idx++) {
		const unsigned char *d;
		size_t dn;
		if (!file_data(p, &d, &dn))
			continue; /* a rendering without a file: nothing to keep */
		struct tnef_file *f = &res->files[res->nfiles++];
		file_fill(a, p, cs, idx, f);
		f->data = (const unsigned char *)arena_memdup0(a, d, dn);
		f->size = dn;
	}
	body_fill(a, &t, cs, max_text, res);
	TNEFFree(&t);
	rc = res->nfiles || res->text || res->html ? 0 : -1;
out:
	free(clean);
	return rc;
}
