/* Unit tests: PNG writing and the table heatmaps, read back with libpng. */
#include <png.h>
#include <setjmp.h>

#include "axmul.h"
#include "testutil.h"

typedef struct {
    unsigned w, h;
    uint8_t *rgb;
    char scale[256];
} image;

/* Decodes a whole RGB PNG; fails the test on any libpng error. */
static image read_png(const char *path)
{
    image im = {0};
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png)))
        ck_abort_msg("%s: libpng could not decode it", path);
    png_init_io(png, f);
    png_read_info(png, info);
    im.w = png_get_image_width(png, info);
    im.h = png_get_image_height(png, info);
    ck_assert_int_eq(png_get_color_type(png, info), PNG_COLOR_TYPE_RGB);
    ck_assert_int_eq(png_get_bit_depth(png, info), 8);
    im.rgb = malloc((size_t)im.w * im.h * 3);
    for (unsigned y = 0; y < im.h; y++)
        png_read_row(png, im.rgb + (size_t)y * im.w * 3, NULL);
    png_read_end(png, info);
    png_textp text;
    int n = 0;
    png_get_text(png, info, &text, &n);
    for (int i = 0; i < n; i++)
        if (strcmp(text[i].key, "Scale") == 0)
            snprintf(im.scale, sizeof im.scale, "%s", text[i].text);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return im;
}

static const uint8_t *px(const image *im, unsigned x, unsigned y)
{
    return im->rgb + ((size_t)y * im->w + x) * 3;
}

START_TEST(test_colormaps)
{
    uint8_t c[3];
    axmul_color_diverging(0, c);
    ck_assert(c[0] == 255 && c[1] == 255 && c[2] == 255);
    axmul_color_diverging(-1, c);
    ck_assert(c[2] > c[0]); /* blue */
    axmul_color_diverging(5, c);
    ck_assert(c[0] > c[2]); /* red, clamped */
    axmul_color_sequential(0, c);
    ck_assert(c[0] < 10 && c[1] < 10);
    axmul_color_sequential(1, c);
    ck_assert(c[0] > 240 && c[1] > 240);
}
END_TEST

START_TEST(test_heatmap)
{
    char *dir = tu_mkdtemp();
    char path[4200];
    snprintf(path, sizeof path, "%s/h.png", dir);
    axmul_table *t;
    ck_assert_int_eq(axmul_table_create_exact(0, &t), AXMUL_OK);
    axmul_table_data_mut(t)[0 * 256 + 255] = 10;  /* top right: +10 */
    axmul_table_data_mut(t)[255 * 256 + 0] = 0;   /* exact */
    axmul_table_data_mut(t)[255 * 256 + 1] = 245; /* bottom, column 1: -10 */
    double lim = 0;
    ck_assert_int_eq(axmul_heatmap_table_error(t, NULL, 1, path, &lim), AXMUL_OK);
    ck_assert_double_eq(lim, 10);
    image im = read_png(path);
    ck_assert_uint_eq(im.w, 256);
    ck_assert_uint_eq(im.h, 256);
    ck_assert(strstr(im.scale, "-10") && strstr(im.scale, "+10"));
    const uint8_t *tr = px(&im, 255, 0), *bl = px(&im, 1, 255), *mid = px(&im, 100, 100);
    ck_assert(tr[0] > 150 && tr[2] < 80);                       /* red at a=0, b=255 */
    ck_assert(bl[2] > 150 && bl[0] < 80);                       /* blue at a=255, b=1 */
    ck_assert(mid[0] == 255 && mid[1] == 255 && mid[2] == 255); /* white where exact */
    free(im.rgb);
    ck_assert_int_eq(axmul_heatmap_table_error(t, NULL, 3, path, NULL), AXMUL_OK);
    im = read_png(path);
    ck_assert_uint_eq(im.w, 768);
    ck_assert_uint_eq(im.h, 768);
    free(im.rgb);
    ck_assert_int_eq(axmul_heatmap_table_error(t, NULL, 0, path, NULL), AXMUL_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(axmul_heatmap_table_error(t, NULL, 17, path, NULL),
                     AXMUL_ERR_INVALID_ARGUMENT);
    axmul_table_free(t);
    tu_rmdir(dir);
}
END_TEST

START_TEST(test_heatmap_signed_order)
{
    char *dir = tu_mkdtemp();
    char path[4200];
    snprintf(path, sizeof path, "%s/s.png", dir);
    axmul_table *t;
    ck_assert_int_eq(axmul_table_create_exact(1, &t), AXMUL_OK);
    /* (-128) * (-128) = 16384, stored as 16383: at the top-left pixel in -128..127 order */
    axmul_table_data_mut(t)[0x80 * 256 + 0x80] = 16383;
    ck_assert_int_eq(axmul_heatmap_table_error(t, NULL, 1, path, NULL), AXMUL_OK);
    image im = read_png(path);
    const uint8_t *tl = px(&im, 0, 0), *centre = px(&im, 128, 128);
    ck_assert(tl[2] > 150 && tl[0] < 80); /* blue: e = -1 */
    ck_assert(centre[0] == 255 && centre[1] == 255 && centre[2] == 255);
    free(im.rgb);
    axmul_table_free(t);
    tu_rmdir(dir);
}
END_TEST

START_TEST(test_histogram_and_errors)
{
    char *dir = tu_mkdtemp();
    char path[4200];
    snprintf(path, sizeof path, "%s/hist.png", dir);
    axmul_table *t;
    ck_assert_int_eq(axmul_table_create(0, &t), AXMUL_OK); /* all zero: e from -65025 to 0 */
    ck_assert_int_eq(axmul_histogram_table_error(t, NULL, 300, 120, path), AXMUL_OK);
    image im = read_png(path);
    ck_assert_uint_eq(im.w, 300);
    ck_assert_uint_eq(im.h, 120);
    ck_assert(strstr(im.scale, "-65025") != NULL);
    free(im.rgb);
    ck_assert_int_eq(axmul_histogram_table_error(t, NULL, 4, 4, path), AXMUL_ERR_INVALID_ARGUMENT);
    /* an unwritable target leaves nothing behind */
    snprintf(path, sizeof path, "%s/no/such/dir.png", dir);
    ck_assert_int_ne(axmul_heatmap_table_error(t, NULL, 1, path, NULL), AXMUL_OK);
    ck_assert(strstr(axmul_error_detail(), "dir.png") != NULL);
    ck_assert_int_eq(tu_count_entries(dir), 1);
    axmul_table_free(t);
    tu_rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("image");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_colormaps);
    tcase_add_test(tc, test_heatmap);
    tcase_add_test(tc, test_heatmap_signed_order);
    tcase_add_test(tc, test_histogram_and_errors);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
