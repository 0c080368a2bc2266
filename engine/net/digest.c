/*
 * SHA-256 through OpenSSL: with the CPU's SHA extensions it is several
 * times faster than GLib's portable code, and every raw mail and every
 * attachment is hashed once. MD5 only for POP3's APOP.
 */
#include "engine/net/digest.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/xalloc.h"

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	/* fetched once: an implicit fetch per call costs a lookup each time */
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void to_hex(const unsigned char *md, unsigned n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (unsigned i = 0; i < n; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * n] = '\0';
}

void digest_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	pthread_once(&sha256_once, sha256_fetch);
	if (!sha256_md || !EVP_Digest(data, len, md, &mdlen, sha256_md, NULL) || mdlen != 32)
		abort(); /* no SHA-256 in the crypto library: nothing can be identified */
	to_hex(md, 32, out);
}

struct digest_sha256 {
	EVP_MD_CTX *ctx;
};

struct digest_sha256 *digest_sha256_new(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	struct digest_sha256 *d = xcalloc(1, sizeof(*d));
	d->ctx = EVP_MD_CTX_new();
	if (!sha256_md || !d->ctx || !EVP_DigestInit_ex(d->ctx, sha256_md, NULL))
		abort(); /* as above: without SHA-256 nothing can be identified */
	return d;
}

void digest_sha256_update(struct digest_sha256 *d, const void *data, size_t len)
{
	if (!EVP_DigestUpdate(d->ctx, data, len))
		abort();
}

void digest_sha256_update_crlf(struct digest_sha256 *d, const void *data, size_t len,
			       bool *last_cr)
{
	const char *p = data, *end = p + len, *from = p;
	for (const char *lf; (lf = memchr(p, '\n', (size_t)(end - p))) != NULL; p = lf + 1) {
		bool cr = lf > from ? lf[-1] == '\r' : *last_cr;
		if (cr)
			continue;
		digest_sha256_update(d, from, (size_t)(lf - from));
		digest_sha256_update(d, "\r\n", 2);
		from = lf + 1;
	}
	digest_sha256_update(d, from, (size_t)(end - from));
	if (len)
		*last_cr = ((const char *)data)[len - 1] == '\r';
}

void digest_sha256_final_hex(struct digest_sha256 **dp, char out[65])
{
	struct digest_sha256 *d = *dp;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!EVP_DigestFinal_ex(d->ctx, md, &mdlen) || mdlen != 32)
		abort();
	to_hex(md, 32, out);
	EVP_MD_CTX_free(d->ctx);
	free(d);
	*dp = NULL;
}

void digest_md5_hex(const void *data, size_t len, char out[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	out[0] = '\0';
	/* MD5 is in OpenSSL's default provider; without it APOP cannot work */
	if (!EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) || mdlen != 16)
		return;
	to_hex(md, 16, out);
}
