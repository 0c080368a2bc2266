/*
 * engine/mime/html_text: HTML ► readable text, one shape per test.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/mime/html_text.h"
#include "engine/mime/message.h"
#include "engine/mime/mime_internal.h"
#include "engine/util/buf.h"
#include "tests/unit/test.h"

static struct arena *arena;

static const char *conv(const char *html)
{
	size_t len;
	return html_text_convert(arena, html, strlen(html), 1 << 20, &len, NULL);
}

TEST(paragraphs_and_breaks)
{
	CHECK_STR(conv("<p>One</p><p>Two<br>Three</p>"), "One\n\nTwo\nThree");
	CHECK_STR(conv("<div>a</div><div>b</div>"), "a\nb");
	CHECK_STR(conv("x<br><br><br><br>y"), "x\n\ny");
	CHECK_STR(conv("<h2>Title</h2>text"), "Title\n\ntext");
	CHECK_STR(conv(""), "");
	CHECK_STR(conv("   "), "");
}

TEST(whitespace_collapses)
{
	CHECK_STR(conv("<p>  many   \n\t spaces  here </p>"), "many spaces here");
	CHECK_STR(conv("<b>bold</b> <i>italic</i>"), "bold italic");
	CHECK_STR(conv("a&nbsp;&nbsp;b"), "a  b");
	CHECK_STR(conv("<pre>  keep\n    this</pre>"), "  keep\n    this");
}

TEST(entities_decoded)
{
	CHECK_STR(conv("&lt;tag&gt; &amp; &quot;q&quot; &eacute; &#8364; &#x263A;"),
		  "<tag> & \"q\" é € ☺");
}

TEST(dropped_elements)
{
	CHECK_STR(conv("<html><head><title>T</title><style>p{}</style></head>"
		       "<body><script>var x=1;</script>visible<noscript>no</noscript></body></html>"),
		  "visible");
	CHECK_STR(conv("a<!-- comment -->b"), "ab");
}

TEST(lists)
{
	CHECK_STR(conv("<ul><li>one</li><li>two</li></ul>"), "- one\n- two");
	CHECK_STR(conv("<ol><li>one</li><li>two</li></ol>"), "1. one\n2. two");
	CHECK_STR(conv("<ol start=\"4\"><li>four</li><li>five</li></ol>"), "4. four\n5. five");
	CHECK_STR(conv("<ul><li>a<ul><li>b</li></ul></li><li>c</li></ul>"), "- a\n  - b\n- c");
	CHECK_STR(conv("<p>Before</p><ul><li>x</li></ul><p>After</p>"), "Before\n\n- x\n\nAfter");
}

TEST(links)
{
	CHECK_STR(conv("<a href=\"https://example.com/x\">the page</a>"),
		  "the page <https://example.com/x>");
	CHECK_STR(conv("<a href=\"https://example.com/\">https://example.com/</a>"),
		  "https://example.com/");
	CHECK_STR(conv("<a href=\"mailto:help@example.org\">help@example.org</a>"),
		  "help@example.org");
	CHECK_STR(conv("<a href=\"#top\">top</a>"), "top");
	CHECK_STR(conv("go <a href=\"https://example.net/\"></a>"), "go https://example.net/");
	CHECK_STR(conv("<a href=\"https://example.com/a\"><img src=x alt=\"Logo\"></a>"),
		  "[Logo] <https://example.com/a>");
}

TEST(tables)
{
	CHECK_STR(conv("<table><tr><th>Name</th><th>Room</th></tr>"
		       "<tr><td>Printer</td><td>3.14</td></tr></table>"),
		  "Name | Room\nPrinter | 3.14");
	/* empty layout cells leave no separators behind */
	CHECK_STR(conv("<table><tr><td></td><td>only</td><td> </td></tr></table>"), "only");
	CHECK_STR(conv("<p>x</p><table><tr><td>a</td></tr></table><p>y</p>"), "x\n\na\n\ny");
}

TEST(blockquotes)
{
	CHECK_STR(conv("<p>Reply</p><blockquote><p>old one</p><p>old two</p></blockquote>"
		       "<p>End</p>"),
		  "Reply\n\n> old one\n>\n> old two\n\nEnd");
	CHECK_STR(conv("<blockquote>a<blockquote>b</blockquote></blockquote>"),
		  "> a\n>\n> > b");
}

TEST(images)
{
	CHECK_STR(conv("<img src=\"cid:x\" alt=\"Company logo\"> text"), "[Company logo] text");
	CHECK_STR(conv("<img src=\"cid:x\">text"), "text");
	CHECK_STR(conv("<img alt=\"  \">text"), "text");
}

TEST(meta_charset_ignored)
{
	/* the input is UTF-8 already; a stale meta charset must not re-decode it */
	CHECK_STR(conv("<html><head><meta charset=\"iso-8859-1\"></head><body>Grüße</body></html>"),
		  "Grüße");
	CHECK_STR(conv("<html><head><meta http-equiv=\"Content-Type\" "
		       "content=\"text/html; charset=windows-1252\"></head><body>€ 5</body></html>"),
		  "€ 5");
}

TEST(broken_html)
{
	CHECK_STR(conv("<p>unclosed <b>bold <i>both"), "unclosed bold both");
	CHECK(strstr(conv("<<>>&&;;<p"), "&&;;") != NULL);
	/* invalid UTF-8 and NUL are repaired, never passed on */
	const char bad[] = "ok \xff <b>x</b>\0tail";
	size_t len;
	const char *t = html_text_convert(arena, bad, sizeof(bad) - 1, 1000, &len, NULL);
	CHECK(mime_utf8_valid(t, len) && strlen(t) == len);
	CHECK(strncmp(t, "ok \xEF\xBF\xBD x", 8) == 0);
}

TEST(output_capped)
{
	struct buf b;
	buf_init(&b, 1 << 22);
	for (int i = 0; i < 10000; i++)
		buf_adds(&b, "<p>Grüße aus Köln, Zeile</p>");
	size_t len;
	bool cut = false;
	const char *t = html_text_convert(arena, b.data, b.len, 1000, &len, &cut);
	CHECK(cut);
	CHECK(len <= 1000 && len > 900);
	CHECK(mime_utf8_valid(t, len) && strlen(t) == len);
	buf_release(&b);
}

TEST(deep_nesting)
{
	/*
	 * no recursion in the walk: 100,000 nested elements cost no stack.
	 * libxml2 stops building the tree at its own depth limit (256), so the
	 * innermost text may be lost; what comes out is still clean.
	 */
	struct buf b;
	buf_init(&b, 1 << 23);
	for (int i = 0; i < 100000; i++)
		buf_adds(&b, i % 2 ? "<div>" : "<blockquote><ul><li>");
	buf_adds(&b, "deep");
	size_t len;
	const char *t = html_text_convert(arena, b.data, b.len, 1 << 20, &len, NULL);
	CHECK(mime_utf8_valid(t, len) && strlen(t) == len);
	buf_release(&b);
	buf_init(&b, 1 << 20);
	for (int i = 0; i < 200; i++)
		buf_adds(&b, "<div>");
	buf_adds(&b, "deep");
	t = html_text_convert(arena, b.data, b.len, 1 << 20, &len, NULL);
	CHECK_STR(t, "deep");
	buf_release(&b);
}

int main(void)
{
	mime_global_init(); /* libxml2 is initialised there */
	arena = arena_new();
	RUN(paragraphs_and_breaks);
	RUN(whitespace_collapses);
	RUN(entities_decoded);
	RUN(dropped_elements);
	RUN(lists);
	RUN(links);
	RUN(tables);
	RUN(blockquotes);
	RUN(images);
	RUN(meta_charset_ignored);
	RUN(broken_html);
	RUN(output_capped);
	RUN(deep_nesting);
	arena_free(&arena);
	mime_global_shutdown();
	return test_summary();
}
