/*
 * One UTF-8 decoder for the project (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). The JSON writer, the message
 * model's repair, storage's text cleaning and the rules' case folding all
 * read mail text through it.
 */
#ifndef M2T_UTF8_H
#define M2T_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Length (1..4) of the valid sequence at s[0..avail), its code point in
 * *cp_r (may be NULL); 0 when the bytes there are not valid UTF-8 or
 * avail is 0. A NUL byte is a valid sequence of one: callers that cannot
 * hold NUL check for it.
 */
size_t utf8_decode(const unsigned char *s, size_t avail, uint32_t *cp_r);

#endif
