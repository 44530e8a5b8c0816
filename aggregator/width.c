/* Terminal display width of UTF-8 text and padding to a width (the status
 * table): East Asian wide and full-width characters take 2 columns. */
#include "agg.h"

/* East Asian Wide (W) and Fullwidth (F) blocks, enough for Chinese text. */
static int cp_wide(uint32_t cp)
{
    return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) ||
           (cp >= 0x3041 && cp <= 0x33FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
           (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
           (cp >= 0xFE10 && cp <= 0xFE19) || (cp >= 0xFE30 && cp <= 0xFE6F) ||
           (cp >= 0xFF00 && cp <= 0xFF60) || (cp >= 0xFFE0 && cp <= 0xFFE6) ||
           (cp >= 0x1F300 && cp <= 0x1F64F) || (cp >= 0x20000 && cp <= 0x3FFFD);
}

size_t sgs_agg_width_of(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t w = 0;

    while (*p) {
        uint32_t cp;
        int n;

        if (*p < 0x80) {
            cp = *p;
            n = 1;
        } else if ((*p & 0xE0) == 0xC0) {
            cp = *p & 0x1F;
            n = 2;
        } else if ((*p & 0xF0) == 0xE0) {
            cp = *p & 0x0F;
            n = 3;
        } else if ((*p & 0xF8) == 0xF0) {
            cp = *p & 0x07;
            n = 4;
        } else {
            p++;
            w++;
            continue;
        }
        for (int i = 1; i < n; i++) {
            if ((p[i] & 0xC0) != 0x80) {
                n = i;
                break;
            }
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        w += cp_wide(cp) ? 2 : 1;
        p += n;
    }
    return w;
}

void sgs_agg_width_pad(sgs_buf *b, const char *s, size_t width, int right_align)
{
    size_t w = sgs_agg_width_of(s);
    size_t pad = w < width ? width - w : 0;

    if (!right_align)
        sgs_buf_puts(b, s);
    for (size_t i = 0; i < pad; i++)
        sgs_buf_append(b, " ", 1);
    if (right_align)
        sgs_buf_puts(b, s);
}
