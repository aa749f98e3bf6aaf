/* axmul: PNG output (libpng) and the colour maps used by every picture the tools draw. */
#include "config.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axmul_image.h"
#include "lib/core/internal.h"

typedef struct {
    uint8_t *buf;
    size_t len, cap;
    int failed;
} membuf;

static void mem_write(png_structp png, png_bytep data, png_size_t len)
{
    membuf *m = png_get_io_ptr(png);
    if (m->failed)
        return;
    if (m->len + len > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + len)
            cap *= 2;
        uint8_t *nb = realloc(m->buf, cap);
        if (!nb) {
            m->failed = 1;
            return;
        }
        m->buf = nb;
        m->cap = cap;
    }
    memcpy(m->buf + m->len, data, len);
    m->len += len;
}

static void mem_flush(png_structp png)
{
    (void)png;
}

axmul_status axmul_png_write_rgb(const char *path, unsigned width, unsigned height,
                                 const uint8_t *rgb, const char *const *keys,
                                 const char *const *values, size_t n_text)
{
    axmul_error_clear();
    if (!path || !rgb || width == 0 || height == 0 || width > 65536 || height > 65536)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "%s: bad image size %ux%u",
                           path ? path : "<png>", width, height);
    /* Encode into memory first, so that the file itself is written in one atomic step. */
    membuf m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_textp text = NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: cannot create PNG writer", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(text);
        free(m.buf);
        return axmul__fail(AXMUL_ERR_IO, "%s: PNG encoding failed", path);
    }
    png_set_write_fn(png, &m, mem_write, mem_flush);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (n_text) {
        text = calloc(n_text, sizeof *text);
        if (!text)
            png_error(png, "out of memory");
        for (size_t i = 0; i < n_text; i++) {
            text[i].compression = PNG_TEXT_COMPRESSION_NONE;
            text[i].key = (png_charp)keys[i];
            text[i].text = (png_charp)values[i];
        }
        png_set_text(png, info, text, (int)n_text);
    }
    png_write_info(png, info);
    for (unsigned y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(rgb + (size_t)y * width * 3));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(text);
    if (m.failed) {
        free(m.buf);
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory while encoding", path);
    }
    axmul_status s = axmul__write_file_atomic(path, m.buf, m.len);
    free(m.buf);
    return s;
}

static uint8_t clamp_u8(double v)
{
    if (v < 0)
        return 0;
    if (v > 255)
        return 255;
    return (uint8_t)lround(v);
}

void axmul_color_diverging(double v, uint8_t rgb[3])
{
    if (!(v == v))
        v = 0;
    if (v < -1)
        v = -1;
    if (v > 1)
        v = 1;
    /* Two linear ramps through white: (33,102,172) blue ... white ... (178,24,43) red, the end
     * colours of ColorBrewer's RdBu scheme. */
    double lo[3] = {33, 102, 172}, hi[3] = {178, 24, 43};
    const double *end = v < 0 ? lo : hi;
    double f = fabs(v);
    for (int k = 0; k < 3; k++)
        rgb[k] = clamp_u8(255.0 + (end[k] - 255.0) * f);
}

void axmul_color_sequential(double v, uint8_t rgb[3])
{
    if (!(v == v) || v < 0)
        v = 0;
    if (v > 1)
        v = 1;
    static const double stops[5][3] = {
        {0, 0, 4}, {81, 18, 124}, {183, 55, 121}, {252, 137, 97}, {252, 253, 191}};
    double x = v * 4;
    int i = (int)x;
    if (i >= 4)
        i = 3;
    double f = x - i;
    for (int k = 0; k < 3; k++)
        rgb[k] = clamp_u8(stops[i][k] + (stops[i + 1][k] - stops[i][k]) * f);
}

static int32_t err_at(const axmul_table *t, const axmul_table *ref, unsigned ia, unsigned ib)
{
    int32_t p = ref ? axmul_table_product(ref, ia, ib)
                    : axmul_exact_product(axmul_table_is_signed(t), ia, ib);
    return axmul_table_product(t, ia, ib) - p;
}

axmul_status axmul_heatmap_table_error(const axmul_table *t, const axmul_table *ref, unsigned scale,
                                       const char *path, double *out_limit)
{
    axmul_error_clear();
    if (!t || !path)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_heatmap_table_error: NULL argument");
    if (scale < 1 || scale > 16)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "%s: scale %u outside 1..16", path, scale);
    int sgn = axmul_table_is_signed(t);
    int32_t lim = 0;
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++) {
        int32_t e = err_at(t, ref, i >> 8, i & 255);
        if (e < 0)
            e = -e;
        if (e > lim)
            lim = e;
    }
    if (lim == 0)
        lim = 1;
    unsigned side = 256 * scale;
    uint8_t *rgb = malloc((size_t)side * side * 3);
    if (!rgb)
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", path);
    for (unsigned y = 0; y < side; y++) {
        unsigned ra = y / scale;
        unsigned ia = sgn ? (ra + 128) & 255 : ra;
        for (unsigned x = 0; x < side; x++) {
            unsigned rb = x / scale;
            unsigned ib = sgn ? (rb + 128) & 255 : rb;
            axmul_color_diverging((double)err_at(t, ref, ia, ib) / lim,
                                  rgb + ((size_t)y * side + x) * 3);
        }
    }
    char scale_text[200], axes[200];
    snprintf(scale_text, sizeof scale_text,
             "e = T[a][b] - %s; blue = -%d, white = 0, red = +%d (linear, saturating)",
             ref ? "R[a][b]" : "a*b", (int)lim, (int)lim);
    snprintf(axes, sizeof axes, "rows: a = %s (top to bottom); columns: b = %s (left to right)",
             sgn ? "-128..127" : "0..255", sgn ? "-128..127" : "0..255");
    const char *keys[] = {"Title", "Scale", "Axes", "Software"};
    const char *vals[] = {"axmul table error heatmap", scale_text, axes, "axmul"};
    axmul_status s = axmul_png_write_rgb(path, side, side, rgb, keys, vals, 4);
    free(rgb);
    if (s == AXMUL_OK && out_limit)
        *out_limit = lim;
    return s;
}

axmul_status axmul_histogram_table_error(const axmul_table *t, const axmul_table *ref,
                                         unsigned width, unsigned height, const char *path)
{
    axmul_error_clear();
    if (!t || !path)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT,
                           "axmul_histogram_table_error: NULL argument");
    if (width < 16 || height < 16 || width > 4096 || height > 4096)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "%s: histogram size %ux%u outside 16..4096",
                           path, width, height);
    int32_t emin = INT32_MAX, emax = INT32_MIN;
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++) {
        int32_t e = err_at(t, ref, i >> 8, i & 255);
        if (e < emin)
            emin = e;
        if (e > emax)
            emax = e;
    }
    /* Bins span [emin, emax] symmetric around nothing: one column per bin. */
    double span = (double)emax - emin + 1;
    uint64_t *bins = calloc(width, sizeof *bins);
    uint8_t *rgb = malloc((size_t)width * height * 3);
    if (!bins || !rgb) {
        free(bins);
        free(rgb);
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", path);
    }
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++) {
        int32_t e = err_at(t, ref, i >> 8, i & 255);
        unsigned k = (unsigned)(((double)e - emin) / span * width);
        if (k >= width)
            k = width - 1;
        bins[k]++;
    }
    double top = log10(65536.0 + 1);
    memset(rgb, 255, (size_t)width * height * 3);
    for (unsigned x = 0; x < width; x++) {
        if (!bins[x])
            continue;
        double f = log10((double)bins[x] + 1) / top;
        unsigned h = (unsigned)lround(f * (height - 1));
        if (h == 0)
            h = 1;
        double centre = emin + (x + 0.5) * span / width;
        uint8_t c[3];
        axmul_color_diverging(centre == 0 ? 0 : (centre < 0 ? -0.8 : 0.8), c);
        if (centre > -0.5 * span / width && centre < 0.5 * span / width)
            c[0] = c[1] = c[2] = 60; /* the e = 0 bin in grey */
        for (unsigned y = height - h; y < height; y++)
            memcpy(rgb + ((size_t)y * width + x) * 3, c, 3);
    }
    char range[160];
    snprintf(range, sizeof range,
             "x: e from %d (left) to %d (right), %u bins; y: log10(count + 1), top = 65536",
             (int)emin, (int)emax, width);
    const char *keys[] = {"Title", "Scale", "Software"};
    const char *vals[] = {"axmul table error histogram", range, "axmul"};
    axmul_status s = axmul_png_write_rgb(path, width, height, rgb, keys, vals, 3);
    free(bins);
    free(rgb);
    return s;
}
