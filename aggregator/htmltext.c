/* Text as HTML or SVG character data or an attribute value (REFERENCE §10): the
 * report page (html.c) and its charts (svg.c) escape every text that comes
 * from elsewhere with it, so it is shown as text and is never markup. Pure. */
#include "agg.h"

void sgs_agg_html_text(sgs_buf *b, const char *s)
{
    const char *run = s;

    for (; *s; s++) {
        const char *e;

        switch (*s) {
        case '&':
            e = "&amp;";
            break;
        case '<':
            e = "&lt;";
            break;
        case '>':
            e = "&gt;";
            break;
        case '"':
            e = "&quot;";
            break;
        case '\'':
            e = "&#39;";
            break;
        default:
            continue;
        }
        sgs_buf_append(b, run, (size_t)(s - run));
        sgs_buf_puts(b, e);
        run = s + 1;
    }
    sgs_buf_append(b, run, (size_t)(s - run));
}
