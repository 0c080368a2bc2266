/*
 * SECURITY: the server's certificate is untrusted data until verified:
 * every text taken from it (names, SANs) is cleaned and cut before it is
 * shown or logged. Pins compare the SHA-256 of the SubjectPublicKeyInfo in
 * constant time.
 *
 * What a handshake showed (for test-connection and the logs), why a
 * certificate was refused in plain words, and key pinning.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "engine/net/net.h"
#include "engine/net/net_int.h"
#include "engine/util/base64.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

static void name_text(const X509_NAME *n, char *out, size_t outlen)
{
	out[0] = '\0';
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		char *p;
		long len = BIO_get_mem_data(b, &p);
		if (len > 0)
			log_clean(p, (size_t)len, out, outlen);
	}
	BIO_free(b);
}

/* The common name, for short messages ("issued by X"). */
static void name_cn(const X509_NAME *n, char *out, size_t outlen)
{
	out[0] = '\0';
	int i = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
	if (i < 0)
		return;
	const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
	unsigned char *utf8 = NULL;
	int len = ASN1_STRING_to_UTF8(&utf8, s);
	if (len > 0)
		log_clean((const char *)utf8, (size_t)len, out, outlen);
	OPENSSL_free(utf8);
}

static void add_text(char *out, size_t outlen, const char *sep, const char *s)
{
	size_t have = strlen(out);
	if (have + 1 >= outlen)
		return;
	snprintf(out + have, outlen - have, "%s%s", have ? sep : "", s);
}

/* "DNS:localhost, IP:127.0.0.1" into sans, and "localhost, 127.0.0.1" into names. */
static void san_text(X509 *cert, char *sans, size_t sanslen, char *names, size_t nameslen)
{
	sans[0] = names[0] = '\0';
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	if (!gens)
		return;
	/* a hostile certificate may carry thousands: show the first few dozen */
	int n = sk_GENERAL_NAME_num(gens);
	for (int i = 0; i < n && i < 64; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char item[300], clean[260];
		if (g->type == GEN_DNS) {
			const ASN1_IA5STRING *s = g->d.dNSName;
			log_clean((const char *)ASN1_STRING_get0_data(s),
				  (size_t)ASN1_STRING_length(s), clean, sizeof(clean));
			snprintf(item, sizeof(item), "DNS:%s", clean);
			add_text(names, nameslen, ", ", clean);
		} else if (g->type == GEN_IPADD) {
			const ASN1_OCTET_STRING *ip = g->d.iPAddress;
			const unsigned char *d = ASN1_STRING_get0_data(ip);
			int l = ASN1_STRING_length(ip);
			if (l == 4) {
				snprintf(clean, sizeof(clean), "%u.%u.%u.%u", d[0], d[1], d[2], d[3]);
			} else if (l == 16) {
				size_t o = 0;
				for (int k = 0; k < 16; k += 2)
					o += (size_t)snprintf(clean + o, sizeof(clean) - o, "%s%x",
							      k ? ":" : "", d[k] << 8 | d[k + 1]);
			} else {
				snprintf(clean, sizeof(clean), "?");
			}
			snprintf(item, sizeof(item), "IP:%s", clean);
			add_text(names, nameslen, ", ", clean);
		} else {
			continue;
		}
		add_text(sans, sanslen, ", ", item);
	}
	GENERAL_NAMES_free(gens);
}

static void time_text(const ASN1_TIME *t, char *out, size_t outlen, long *days_r)
{
	struct tm tm;
	out[0] = '\0';
	*days_r = 0;
	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return;
	strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm);
	int days = 0, secs = 0;
	if (ASN1_TIME_diff(&days, &secs, NULL, t))
		*days_r = days;
}

static int spki_sha256(X509 *cert, unsigned char md[32])
{
	unsigned char *der = NULL;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	unsigned int mdlen = 0;
	int ok = len > 0 && EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) &&
		 mdlen == 32;
	OPENSSL_free(der);
	return ok ? 0 : -1;
}

/* The server's certificate, also when verification failed mid-handshake
 * (then the session has no peer yet, but the chain it sent is kept). */
static X509 *leaf_cert(SSL *ssl)
{
	X509 *x = SSL_get0_peer_certificate(ssl);
	if (x)
		return x;
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	return chain && sk_X509_num(chain) > 0 ? sk_X509_value(chain, 0) : NULL;
}

/* vsnprintf: cutting a long explanation is fine, and says so by "..." */
static void __attribute__((format(printf, 2, 3))) problem_set(struct net_tls_info *ti,
							     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(ti->problem, sizeof(ti->problem), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(ti->problem))
		memcpy(ti->problem + sizeof(ti->problem) - 4, "...", 4);
}

static void explain(struct net_tls_info *ti, X509 *cert, const char *name, long vr,
		    const char *names)
{
	char who[200];
	switch (vr) {
	case X509_V_OK:
		ti->problem[0] = '\0';
		return;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		problem_set(ti, "the certificate is for %s, not %s",
			 names[0] ? names : ti->subject, name);
		return;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		problem_set(ti, "the certificate expired on %s "
			 "(%ld days ago)", ti->not_after, -ti->days_left);
		return;
	case X509_V_ERR_CERT_NOT_YET_VALID: {
		char nb[32];
		long d;
		time_text(cert ? X509_get0_notBefore(cert) : NULL, nb, sizeof(nb), &d);
		problem_set(ti, "the certificate is not valid "
			 "before %s (is this machine's clock right?)", nb);
		return;
	}
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		problem_set(ti, "the certificate is self-signed (not "
			 "issued by a certificate authority trusted here); trust it with "
			 "tls.ca_file, or pin its key with tls.pin_sha256");
		return;
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		name_cn(cert ? X509_get_issuer_name(cert) : NULL, who, sizeof(who));
		problem_set(ti, "the certificate was issued by \"%s\", "
			 "a certificate authority not trusted here (unknown CA; see tls.ca_file "
			 "and tls.ca_path)", who[0] ? who : ti->issuer);
		return;
	default:
		problem_set(ti, "%s",
			 X509_verify_cert_error_string(vr));
	}
}

void net_tls_info_fill(struct net_conn *c, const struct net_tls *t, const char *name, long vr)
{
	(void)t;
	if (!c->tinfo)
		c->tinfo = xcalloc(1, sizeof(*c->tinfo));
	struct net_tls_info *ti = c->tinfo;
	memset(ti, 0, sizeof(*ti));
	SSL *ssl = c->ssl;
	ti->handshake_done = SSL_is_init_finished(ssl);
	if (ti->handshake_done) {
		snprintf(ti->version, sizeof(ti->version), "%s", SSL_get_version(ssl));
		snprintf(ti->cipher, sizeof(ti->cipher), "%s", SSL_get_cipher_name(ssl));
	}
	X509 *cert = leaf_cert(ssl);
	char names[384] = "";
	if (cert) {
		unsigned char md[32];
		ti->have_cert = true;
		name_text(X509_get_subject_name(cert), ti->subject, sizeof(ti->subject));
		name_text(X509_get_issuer_name(cert), ti->issuer, sizeof(ti->issuer));
		san_text(cert, ti->sans, sizeof(ti->sans), names, sizeof(names));
		time_text(X509_get0_notAfter(cert), ti->not_after, sizeof(ti->not_after),
			  &ti->days_left);
		if (spki_sha256(cert, md) == 0)
			base64_encode(md, 32, ti->pin_sha256);
	}
	ti->verified = ti->handshake_done && cert && vr == X509_V_OK;
	explain(ti, cert, name, vr, names);
}

int net_tls_pin_check(struct net_conn *c, const struct net_tls *t, struct err *err)
{
	unsigned char md[32];
	if (t->npins == 0)
		return 0;
	X509 *cert = leaf_cert(c->ssl);
	if (!cert || spki_sha256(cert, md) < 0)
		return err_set(err, ERR_SOURCE, "%s sent no certificate to check tls.pin_sha256 "
			       "against", c->host);
	for (size_t i = 0; i < t->npins; i++)
		if (CRYPTO_memcmp(md, t->pins[i], 32) == 0)
			return 0;
	char b64[48];
	base64_encode(md, 32, b64);
	return err_set(err, ERR_SOURCE, "the public key of %s (sha256 %s) matches none of "
		       "tls.pin_sha256: a new key, or someone in between", c->host, b64);
}
