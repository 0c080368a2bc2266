/* Base64 with OpenSSL's EVP_EncodeBlock (no line breaks, '=' padding). */
#include "engine/net/encode.h"

#include <openssl/evp.h>

#define ENCODE_MAX ((size_t)1 << 20)

size_t encode_base64_size(size_t len)
{
	return (len + 2) / 3 * 4 + 1;
}

int encode_base64(const void *in, size_t len, char *out)
{
	out[0] = '\0';
	if (len > ENCODE_MAX)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return 0;
}
