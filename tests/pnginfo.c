/* pnginfo: prints "WIDTH HEIGHT" of a PNG after decoding every row with libpng (so a truncated
 * or corrupt image fails); with -t KEY also prints that text chunk. Exit 1 on any error. */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2 && !(argc == 4 && strcmp(argv[2], "-t") == 0)) {
        fprintf(stderr, "usage: pnginfo FILE.png [-t KEY]\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_bytep row = NULL;
    if (setjmp(png_jmpbuf(png))) {
        fprintf(stderr, "%s: not a valid PNG\n", argv[1]);
        png_destroy_read_struct(&png, &info, NULL);
        free(row);
        fclose(f);
        return 1;
    }
    png_init_io(png, f);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    row = malloc(png_get_rowbytes(png, info));
    for (png_uint_32 y = 0; y < h; y++)
        png_read_row(png, row, NULL);
    png_read_end(png, info);
    printf("%u %u\n", (unsigned)w, (unsigned)h);
    if (argc == 4) {
        png_textp text;
        int n = 0;
        png_get_text(png, info, &text, &n);
        int found = 0;
        for (int i = 0; i < n; i++)
            if (strcmp(text[i].key, argv[3]) == 0) {
                printf("%s\n", text[i].text);
                found = 1;
            }
        if (!found) {
            fprintf(stderr, "%s: no text chunk '%s'\n", argv[1], argv[3]);
            png_destroy_read_struct(&png, &info, NULL);
            free(row);
            fclose(f);
            return 1;
        }
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(row);
    fclose(f);
    return 0;
}
