/* The report's charts as inline SVG (REFERENCE §10): no script, no external
 * resource, sized for an A4 page (680 px wide, the width of the text). Labels
 * are other people's text and are escaped (sgs_agg_html_text, htmltext.c); values are
 * printed as the tables print them. */
#include "agg.h"

#include <string.h>

#define W         680.0
#define ROW_H     20.0
#define BAR_H     13.0
#define TOP       46.0 /* title and the scale's labels */
#define BOTTOM    10.0
#define LABEL_PX  6.5 /* per display column at 12 px: Latin 6.5, CJK 13 */
#define LABEL_MIN 60.0
#define LABEL_MAX 200.0
#define VALUE_W   64.0

#define C_BAR   "#4472c4"
#define C_LATE  "#c0504d"
#define C_GRID  "#d0d0d0"
#define C_TEXT  "#000000"
#define C_MUTED "#666666"

/* A value axis: 0..max in parts equal steps of 1, 2 or 5 x 10^k, the
 * smallest step that needs at most 6 of them (max >= least). */
struct scale {
    int64_t max;
    int parts;
};

static struct scale scale_of(int64_t v, int64_t least)
{
    struct scale sc = {least, 1};

    if (v < least)
        v = least;
    for (int64_t p = 1; p <= INT64_MAX / 10; p *= 10) {
        static const int64_t mult[] = {1, 2, 5};

        for (int i = 0; i < 3; i++) {
            int64_t step = p * mult[i], parts = (v + step - 1) / step;

            if (parts <= 6) {
                sc.max = step * parts;
                sc.parts = (int)parts;
                return sc;
            }
        }
    }
    return sc;
}

/* "12", or a rate in hundredths as a percent without trailing zeros: "12.5%". */
static void scale_text(char *out, size_t size, int64_t v, int percent)
{
    if (!percent) {
        snprintf(out, size, "%lld", (long long)v);
        return;
    }
    if (v % 100 == 0)
        snprintf(out, size, "%lld%%", (long long)(v / 100));
    else if (v % 10 == 0)
        snprintf(out, size, "%lld.%lld%%", (long long)(v / 100), (long long)(v % 100 / 10));
    else
        snprintf(out, size, "%lld.%02lld%%", (long long)(v / 100), (long long)(v % 100));
}

/* The value beside a bar: the tables' text ("8.70%", "46"). */
static void value_text(char *out, size_t size, int64_t v, int percent)
{
    if (!percent)
        snprintf(out, size, "%lld", (long long)v);
    else if (v < 0)
        snprintf(out, size, "-");
    else
        snprintf(out, size, "%lld.%02lld%%", (long long)(v / 100), (long long)(v % 100));
}

/* A label cut to max_cols display columns, with "…" when cut. */
static void label_fit(sgs_buf *b, const char *s, size_t max_cols)
{
    char tmp[8];
    size_t cols = 0, n = strlen(s);

    if (sgs_agg_width_of(s) <= max_cols) {
        sgs_agg_html_text(b, s);
        return;
    }
    for (size_t i = 0; i < n;) {
        size_t k = 1, w;

        if ((unsigned char)s[i] >= 0xC0)
            while (i + k < n && ((unsigned char)s[i + k] & 0xC0) == 0x80 && k < 4)
                k++;
        memcpy(tmp, s + i, k);
        tmp[k] = '\0';
        w = sgs_agg_width_of(tmp);
        if (cols + w + 2 > max_cols)
            break;
        sgs_agg_html_text(b, tmp);
        cols += w;
        i += k;
    }
    sgs_buf_puts(b, "…");
}

static void svg_open(sgs_buf *b, double h, const char *title)
{
    sgs_buf_printf(b,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" "
                   "width=\"%.0f\" height=\"%.0f\" role=\"img\" aria-label=\"",
                   W, h, W, h);
    sgs_agg_html_text(b, title);
    sgs_buf_puts(b, "\" font-size=\"12\"><title>");
    sgs_agg_html_text(b, title);
    sgs_buf_printf(b,
                   "</title><text x=\"%.1f\" y=\"16\" text-anchor=\"middle\" font-size=\"13\" "
                   "font-weight=\"bold\" fill=\"" C_TEXT "\">",
                   W / 2);
    sgs_agg_html_text(b, title);
    sgs_buf_puts(b, "</text>");
}

void sgs_agg_svg_bars(sgs_buf *b, const char *title, const char *const *labels,
                      const int64_t *values, size_t n, int percent)
{
    double label_w = LABEL_MIN, plot_w, h = TOP + (double)(n ? n : 1) * ROW_H + BOTTOM;
    int64_t max = 0, nice;
    struct scale sc;
    int parts;
    char text[64];

    for (size_t i = 0; i < n; i++) {
        double w = (double)sgs_agg_width_of(labels[i]) * LABEL_PX + 10;

        if (w > label_w)
            label_w = w;
        if (values[i] > max)
            max = values[i];
    }
    if (label_w > LABEL_MAX)
        label_w = LABEL_MAX;
    plot_w = W - label_w - VALUE_W;
    sc = scale_of(max, percent ? 100 : 5);
    nice = sc.max;
    parts = sc.parts;

    svg_open(b, h, title);
    /* the scale: grid lines and their values */
    for (int k = 0; k <= parts; k++) {
        double x = label_w + plot_w * k / parts;

        scale_text(text, sizeof(text), nice * k / parts, percent);
        sgs_buf_printf(b,
                       "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_GRID
                       "\" stroke-width=\"1\"/>"
                       "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\" "
                       "fill=\"" C_MUTED "\">%s</text>",
                       x, TOP - 6, x, h - BOTTOM, x, TOP - 10, text);
    }
    if (n == 0)
        sgs_buf_printf(b,
                       "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"" C_MUTED
                       "\">无数据</text>",
                       label_w + plot_w / 2, TOP + ROW_H - 6);
    for (size_t i = 0; i < n; i++) {
        double y = TOP + (double)i * ROW_H, bw = 0;

        if (values[i] > 0)
            bw = plot_w * (double)values[i] / (double)nice;
        if (bw > plot_w)
            bw = plot_w;
        sgs_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"" C_TEXT "\">",
                       label_w - 6, y + ROW_H / 2 + 4);
        label_fit(b, labels[i], (size_t)((LABEL_MAX - 10) / LABEL_PX));
        sgs_buf_puts(b, "</text>");
        if (bw > 0)
            sgs_buf_printf(
                b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>",
                label_w, y + (ROW_H - BAR_H) / 2, bw, BAR_H, percent ? C_LATE : C_BAR);
        value_text(text, sizeof(text), values[i], percent);
        sgs_buf_printf(b,
                       "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"" C_TEXT "\">%s</text>",
                       label_w + bw + 4, y + ROW_H / 2 + 4, text);
    }
    sgs_buf_printf(b,
                   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_TEXT
                   "\" stroke-width=\"1\"/></svg>",
                   label_w, TOP - 6, label_w, h - BOTTOM);
}

/* ---- the trend -------------------------------------------------------------------- */

#define T_H      290.0
#define T_LEFT   56.0
#define T_RIGHT  56.0
#define T_TOP    48.0
#define T_BOTTOM 40.0

void sgs_agg_svg_trend(sgs_buf *b, const sgs_agg_history_point *h, size_t n)
{
    const char *title = "近12个月数据报送量与迟报率";
    double plot_w = W - T_LEFT - T_RIGHT, plot_h = T_H - T_TOP - T_BOTTOM;
    double slot = plot_w / (double)(n ? n : 1), base = T_TOP + plot_h;
    int64_t max_rec = 0, max_rate = 0, nice_rec, nice_rate;
    struct scale sc_rec, sc_rate;
    int parts_rec, parts_rate, open = 0;
    char text[64];

    for (size_t i = 0; i < n; i++) {
        int64_t r = sgs_agg_rate_hundredths(h[i].late, h[i].records);

        if (!h[i].has)
            continue;
        if (h[i].records > max_rec)
            max_rec = h[i].records;
        if (r > max_rate)
            max_rate = r;
    }
    sc_rec = scale_of(max_rec, 5);
    sc_rate = scale_of(max_rate, 100);
    nice_rec = sc_rec.max;
    nice_rate = sc_rate.max;
    parts_rec = sc_rec.parts;
    parts_rate = sc_rate.parts;

    svg_open(b, T_H, title);
    /* legend */
    sgs_buf_printf(b,
                   "<rect x=\"%.1f\" y=\"26\" width=\"12\" height=\"10\" fill=\"" C_BAR "\"/>"
                   "<text x=\"%.1f\" y=\"35\" font-size=\"11\">数据总量（条，左轴）</text>"
                   "<line x1=\"%.1f\" y1=\"31\" x2=\"%.1f\" y2=\"31\" stroke=\"" C_LATE
                   "\" stroke-width=\"2\"/>"
                   "<text x=\"%.1f\" y=\"35\" font-size=\"11\">迟报率（%%，右轴）</text>",
                   W / 2 - 170, W / 2 - 154, W / 2 + 20, W / 2 + 36, W / 2 + 40);
    /* the two scales on one grid: both have their own number of parts */
    for (int k = 0; k <= parts_rec; k++) {
        double y = base - plot_h * k / parts_rec;

        scale_text(text, sizeof(text), nice_rec * k / parts_rec, 0);
        sgs_buf_printf(b,
                       "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_GRID
                       "\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"10\" "
                       "fill=\"" C_BAR "\">%s</text>",
                       T_LEFT, y, W - T_RIGHT, y, T_LEFT - 4, y + 3.5, text);
    }
    for (int k = 0; k <= parts_rate; k++) {
        double y = base - plot_h * k / parts_rate;

        scale_text(text, sizeof(text), nice_rate * k / parts_rate, 1);
        sgs_buf_printf(b,
                       "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"" C_LATE "\">%s</text>",
                       W - T_RIGHT + 4, y + 3.5, text);
    }
    for (size_t i = 0; i < n; i++) {
        double cx = T_LEFT + slot * ((double)i + 0.5), bw = slot * 0.55;

        sgs_buf_printf(b,
                       "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\" "
                       "fill=\"" C_TEXT "\">%s</text>",
                       cx, base + 14, h[i].month);
        if (!h[i].has) {
            sgs_buf_printf(b,
                           "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"9\" "
                           "fill=\"" C_MUTED "\">无快照</text>",
                           cx, base - 4);
            continue;
        }
        {
            double bh = plot_h * (double)h[i].records / (double)nice_rec;

            sgs_buf_printf(
                b,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"" C_BAR
                "\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"9\" "
                "fill=\"" C_TEXT "\">%lld</text>",
                cx - bw / 2, base - bh, bw, bh, cx, base + 26, (long long)h[i].records);
        }
    }
    /* the late rate: a line through the months that have one, broken at gaps */
    for (size_t i = 0; i <= n; i++) {
        int64_t r = i < n && h[i].has ? sgs_agg_rate_hundredths(h[i].late, h[i].records) : -1;
        double cx = T_LEFT + slot * ((double)i + 0.5);

        if (r < 0) {
            if (open)
                sgs_buf_puts(b, "\"/>");
            open = 0;
            continue;
        }
        if (!open)
            sgs_buf_puts(b, "<polyline fill=\"none\" stroke=\"" C_LATE
                            "\" stroke-width=\"2\" points=\"");
        sgs_buf_printf(b, "%s%.1f,%.1f", open ? " " : "", cx,
                       base - plot_h * (double)r / (double)nice_rate);
        open = 1;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t r = h[i].has ? sgs_agg_rate_hundredths(h[i].late, h[i].records) : -1;
        double cx = T_LEFT + slot * ((double)i + 0.5), cy;

        if (r < 0)
            continue;
        cy = base - plot_h * (double)r / (double)nice_rate;
        value_text(text, sizeof(text), r, 1);
        sgs_buf_printf(b,
                       "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"" C_LATE
                       "\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"9\" "
                       "fill=\"" C_LATE "\" stroke=\"#ffffff\" stroke-width=\"3\" "
                       "paint-order=\"stroke\">%s</text>",
                       cx, cy, cx, cy - 6, text);
    }
    sgs_buf_printf(
        b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_TEXT "\"/></svg>",
        T_LEFT, base, W - T_RIGHT, base);
}
