/*
 * SECURITY: decodes text from servers (SASL challenges) and from the
 * config. Every output byte is bounded by the input's length; the decoder
 * never writes more than len / 4 * 3 bytes.
 */
#include "engine/util/base64.h"

#include <stdint.h>

static const char enc_tab[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encoded_size(size_t len)
{
	return (len + 2) / 3 * 4 + 1;
}

void base64_encode(const void *inp, size_t len, char *out)
{
	const unsigned char *in = inp;
	size_t o = 0, i = 0;
	for (; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = enc_tab[v >> 18 & 63];
		out[o++] = enc_tab[v >> 12 & 63];
		out[o++] = enc_tab[v >> 6 & 63];
		out[o++] = enc_tab[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = enc_tab[v >> 18 & 63];
		out[o++] = enc_tab[v >> 12 & 63];
		out[o++] = i + 1 < len ? enc_tab[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

static int dec_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int base64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen_r)
{
	size_t o = 0;
	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			char c = in[i + k];
			if (c == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad || (v[k] = dec_val(c)) < 0)
				return -1;  /* '=' only at the end, nothing after it */
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		/* canonical: the bits the padding hides must be zero */
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			return -1;
		out[o++] = (unsigned char)(w >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(w >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)w;
	}
	*outlen_r = o;
	return 0;
}
