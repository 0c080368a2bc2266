/*
 * HTML ► readable plain text, for mails that come only as HTML and for rules
 * that want text. Uses libxml2's forgiving HTML parser; never touches the
 * network.
 *
 * Output shape: block elements on their own lines, paragraphs separated by
 * one blank line, <br> a line break, lists as "- item" / "1. item",
 * links as "text <url>" (only the url when the text is the url), table rows
 * one per line with cells joined by " | ", blockquote lines prefixed "> ",
 * images as "[alt]", script/style/head dropped, entities decoded, white
 * space collapsed as a browser does (kept inside <pre>). At most one blank
 * line in a row, no trailing spaces, no leading or trailing blank lines.
 */
#ifndef M2T_HTML_TEXT_H
#define M2T_HTML_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/util/arena.h"

/*
 * Converts html[0..len) (UTF-8; other bytes are repaired first) to text in
 * the arena, at most max_len bytes, cut on a UTF-8 boundary (*truncated_r
 * is set then; may be NULL). Never fails: HTML libxml2 cannot read at all
 * gives "". The result is valid UTF-8 without NUL and NUL-terminated.
 * Needs xmlInitParser() (mime_global_init() does it) before threads.
 */
const char *html_text_convert(struct arena *a, const char *html, size_t len, size_t max_len,
			      size_t *len_r, bool *truncated_r);

#endif
