/* axconv-test: what the network commands share (conv/netopts.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axmul.h"
#include "conv/netopts.h"
#include "lib/tool/tool.h"

#define errorf axmul__tool_error

size_t axmul__image_size(const axmul_dataset *d)
{
    return (size_t)axmul_dataset_rows(d) * axmul_dataset_cols(d) * axmul_dataset_channels(d);
}

float *axmul__dataset_floats(const axmul_dataset *d, long limit, int *n_out)
{
    size_t n = axmul_dataset_count(d);
    if (limit > 0 && (size_t)limit < n)
        n = (size_t)limit;
    size_t per = axmul__image_size(d);
    float *x = malloc(n * per * sizeof *x);
    if (!x)
        return NULL;
    const uint8_t *im = axmul_dataset_images(d);
    for (size_t i = 0; i < n * per; i++)
        x[i] = (float)im[i] / 255.0f;
    *n_out = (int)n;
    return x;
}

int axmul__check_input_shape(const axmul_dataset *d, const axmul_model *m, const char *opt,
                             const char *model, const char *dataset)
{
    int h, w, c;
    axmul_model_input_shape(m, &h, &w, &c);
    if (h == 0) {
        errorf("%s %s: the model's input is not one batch of images (N, C, H, W) of fixed C, H "
               "and W: run it on arrays with 'axconv-test run'",
               opt, model);
        return -1;
    }
    if (h != axmul_dataset_rows(d) || w != axmul_dataset_cols(d) ||
        c != axmul_dataset_channels(d)) {
        errorf("%s %s expects %dx%dx%d inputs but %s has %dx%dx%d images", opt, model, h, w, c,
               dataset, axmul_dataset_rows(d), axmul_dataset_cols(d), axmul_dataset_channels(d));
        return -1;
    }
    return 0;
}

int axmul__check_labels(const axmul_dataset *d, size_t n, const axmul_model *m, const char *dataset)
{
    const uint8_t *lab = axmul_dataset_labels(d);
    const int classes = axmul_model_classes(m);
    for (size_t i = 0; i < n; i++)
        if (lab[i] >= classes) {
            errorf("%s: image %zu has label %d but the model has %d classes (0..%d)", dataset, i,
                   lab[i], classes, classes - 1);
            return -1;
        }
    return 0;
}

/* ---------------------------------------------------------------- layer-wise assignment */

static int push_str(char ***v, int *n, const char *s, size_t len)
{
    char **nv = realloc(*v, sizeof(char *) * (size_t)(*n + 1));
    if (!nv)
        return -1;
    *v = nv;
    if (!(nv[*n] = strndup(s, len)))
        return -1;
    (*n)++;
    return 0;
}

int axmul__layers_parse_approx(axmul__layers *L, const char *arg)
{
    L->kinds = 0;
    for (const char *p = arg;;) {
        size_t len = strcspn(p, ",");
        if (len == 0) {
            errorf("--approx '%s': expected a comma-separated list of conv, dense, all, matmul "
                   "or layer names",
                   arg);
            return -1;
        }
        if (len == 4 && strncmp(p, "conv", 4) == 0)
            L->kinds |= AXMUL_APPROX_CONV;
        else if (len == 5 && strncmp(p, "dense", 5) == 0)
            L->kinds |= AXMUL_APPROX_DENSE;
        else if (len == 3 && strncmp(p, "all", 3) == 0)
            L->kinds |= AXMUL_APPROX_ALL;
        else if (len == 6 && strncmp(p, "matmul", 6) == 0)
            L->kinds |= AXMUL_APPROX_MATMUL;
        else if (push_str(&L->names, &L->nnames, p, len) != 0) {
            errorf("out of memory");
            return -1;
        }
        if (!p[len])
            return 0;
        p += len + 1;
    }
}

int axmul__layers_add_pin(axmul__layers *L, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1]) {
        errorf("--layer-mtab '%s': expected LAYER=TABLE.bin", arg);
        return -1;
    }
    int nfiles = L->npins; /* the file first: npins counts complete pairs */
    if (push_str(&L->pin_file, &nfiles, eq + 1, strlen(eq + 1)) != 0 ||
        push_str(&L->pin_name, &L->npins, arg, (size_t)(eq - arg)) != 0) {
        errorf("out of memory");
        return -1;
    }
    return 0;
}

int axmul__layers_on(const axmul__layers *L)
{
    return L->npins > 0 || L->nnames > 0;
}

static int is_param(const axmul_model *m, int i)
{
    return axmul_model_layer_approx(m, i) != 0;
}

/* Index of the conv2d/dense layer called name, or -1 after an error naming what (the option)
 * and the layers that would do. */
static int find_param_layer(const axmul_model *m, const char *model_dir, const char *what,
                            const char *name)
{
    int nl = axmul_model_num_layers(m), found = -1;
    for (int i = 0; i < nl && found < 0; i++)
        if (strcmp(axmul_model_layer_name(m, i), name) == 0)
            found = i;
    if (found >= 0 && is_param(m, found))
        return found;
    axmul__tool_buf b = {0};
    for (int i = 0; i < nl; i++)
        if (is_param(m, i))
            axmul__tool_bprintf(&b, "%s%s", b.len ? ", " : "", axmul_model_layer_name(m, i));
    if (found < 0)
        errorf("%s %s: no layer of that name in %s (its %s: %s)", what, name, model_dir,
               axmul_model_is_onnx(m) ? "Conv, Gemm and MatMul nodes" : "conv2d and dense layers",
               b.s ? b.s : "none");
    else
        errorf("%s %s: the layer is of type %s, without weights to multiply (the %s of %s: %s)",
               what, name, axmul_model_layer_type(m, found),
               axmul_model_is_onnx(m) ? "Conv, Gemm and MatMul nodes" : "conv2d and dense layers",
               model_dir, b.s ? b.s : "none");
    free(b.s);
    return -1;
}

int axmul__layers_resolve(axmul__layers *L, const axmul_model *m, const char *model_dir,
                          int sweeping)
{
    L->nl = axmul_model_num_layers(m);
    L->sweep = calloc((size_t)L->nl, sizeof *L->sweep);
    L->pin = calloc((size_t)L->nl, sizeof *L->pin);
    L->file = calloc((size_t)L->nl, sizeof *L->file);
    if (!L->sweep || !L->pin || !L->file) {
        errorf("out of memory");
        return -1;
    }
    for (int k = 0; k < L->nnames; k++) {
        int i = find_param_layer(m, model_dir, "--approx", L->names[k]);
        if (i < 0)
            return -1;
        L->sweep[i] = sweeping;
    }
    for (int i = 0; i < L->nl && sweeping; i++)
        if (L->kinds & axmul_model_layer_approx(m, i))
            L->sweep[i] = 1;
    for (int k = 0; k < L->npins; k++) {
        int i = find_param_layer(m, model_dir, "--layer-mtab", L->pin_name[k]);
        if (i < 0)
            return -1;
        if (L->pin[i]) {
            errorf("--layer-mtab %s: the layer is given twice", L->pin_name[k]);
            return -1;
        }
        if (axmul_table_load(L->pin_file[k], axmul_name_is_signed(L->pin_file[k]), &L->pin[i]) !=
            AXMUL_OK) {
            errorf("--layer-mtab %s: %s", L->pin_name[k], axmul_error_detail());
            return -1;
        }
        L->file[i] = L->pin_file[k];
        L->sweep[i] = 0; /* a fixed table wins over --approx */
    }
    int nsweep = 0;
    for (int i = 0; i < L->nl; i++)
        nsweep += L->sweep[i];
    if (sweeping && nsweep == 0) {
        errorf("--layer-mtab fixes every layer that --approx selects: no layer is left for the "
               "--mtab tables");
        return -1;
    }
    return 0;
}

int axmul__layers_tables(axmul__layers *L, const axmul_table *t, int exact, const axmul_table **out)
{
    for (int i = 0; i < L->nl; i++) {
        const axmul_table *ti = L->pin[i] ? L->pin[i] : L->sweep[i] ? t : NULL;
        if (ti && exact) {
            int sg = axmul_table_is_signed(ti);
            if (!L->ex[sg] && axmul_table_create_exact(sg, &L->ex[sg]) != AXMUL_OK)
                return -1;
            ti = L->ex[sg];
        }
        out[i] = ti;
    }
    return 0;
}

const char *axmul__layers_file(const axmul__layers *L, int i, const char *path)
{
    return L->file[i] ? L->file[i] : L->sweep[i] ? path : NULL;
}

char *axmul__layers_assignment(const axmul__layers *L, const axmul_model *m, const char *path)
{
    axmul__tool_buf b = {0};
    char *done = calloc((size_t)L->nl, 1);
    for (int i = 0; done && i < L->nl; i++) {
        const char *fi = axmul__layers_file(L, i, path);
        if (!fi || done[i])
            continue;
        axmul__tool_bprintf(&b, "%s", b.len ? ";" : "");
        for (int j = i, first = 1; j < L->nl; j++) {
            const char *fj = axmul__layers_file(L, j, path);
            if (fj && !done[j] && strcmp(fi, fj) == 0) {
                axmul__tool_bprintf(&b, "%s%s", first ? "" : "+", axmul_model_layer_name(m, j));
                done[j] = 1;
                first = 0;
            }
        }
        axmul__tool_bprintf(&b, "=%s", fi);
    }
    free(done);
    return b.s;
}

char *axmul__layers_label(const axmul__layers *L, const axmul_model *m, const char *path)
{
    return axmul__layers_on(L) ? axmul__layers_assignment(L, m, path) : strdup(path);
}

void axmul__layers_free(axmul__layers *L)
{
    for (int k = 0; k < L->nnames; k++)
        free(L->names[k]);
    for (int k = 0; k < L->npins; k++) {
        free(L->pin_name[k]);
        free(L->pin_file[k]);
    }
    for (int i = 0; L->pin && i < L->nl; i++)
        axmul_table_free(L->pin[i]);
    for (int k = 0; k < L->nlabels; k++)
        free(L->labels[k]);
    free(L->labels);
    free(L->names);
    free(L->pin_name);
    free(L->pin_file);
    free(L->sweep);
    free(L->pin);
    free(L->file);
    axmul_table_free(L->ex[0]);
    axmul_table_free(L->ex[1]);
}

void axmul__tabopts_free(axmul__tabopts *T)
{
    axmul__layers_free(&T->L);
    axmul_table_free(T->t);
    free(T->lt);
    free(T->assignment);
}

int axmul__tabopts_option(axmul__tabopts *T, int c, const char *arg, const char *cmd)
{
    switch (c) {
    case 'T':
        if (T->mtab) {
            errorf("--mtab %s: %s takes one --mtab table (--layer-mtab for more)", arg, cmd);
            return -1;
        }
        T->mtab = arg;
        return 1;
    case 'a':
        if (axmul__layers_parse_approx(&T->L, arg) != 0)
            return -1;
        T->approx_given = 1;
        return 1;
    case 'L':
        return axmul__layers_add_pin(&T->L, arg) != 0 ? -1 : 1;
    case 'p':
        T->per_channel = 1;
        return 1;
    default:
        return 0;
    }
}

int axmul__tabopts_check(const axmul__tabopts *T)
{
    if (!T->mtab && (T->approx_given || (T->per_channel && T->L.npins == 0))) {
        errorf("%s selects how the --mtab table is used: give --mtab",
               T->approx_given ? "--approx" : "--per-channel");
        return -1;
    }
    return 0;
}

int axmul__tabopts_resolve(axmul__tabopts *T, const axmul_model *m, const char *model_name)
{
    if (!T->mtab && T->L.npins == 0)
        return 0;
    if (T->mtab && axmul_table_load(T->mtab, axmul_name_is_signed(T->mtab), &T->t) != AXMUL_OK) {
        errorf("--mtab %s", axmul_error_detail());
        return -1;
    }
    if (axmul__layers_resolve(&T->L, m, model_name, T->mtab != NULL) != 0)
        return -1;
    if (!(T->lt = calloc((size_t)axmul_model_num_layers(m), sizeof *T->lt)) ||
        !(T->assignment = axmul__layers_assignment(&T->L, m, T->mtab))) {
        errorf("out of memory");
        return -1;
    }
    axmul__layers_tables(&T->L, T->t, 0, T->lt);
    return 0;
}

/* ---------------------------------------------------------------- progress */

void axmul__train_progress(void *ctx, int epoch, int done, int total, double loss, double acc)
{
    axmul__progress *p = ctx;
    if (p->quiet)
        return;
    if (p->tty && (done % 20 == 0 || done == total)) {
        int width = 30, fill = (int)((double)done / total * width);
        fprintf(stderr, "\repoch %2d/%d [", epoch + 1, p->epochs);
        for (int i = 0; i < width; i++)
            fputc(i < fill ? '#' : '.', stderr);
        fprintf(stderr, "] %3d%%  loss %.4f  accuracy %.4f", (int)(100.0 * done / total), loss,
                acc);
        if (done == total)
            fprintf(stderr, "  (%.1f s)\n", axmul__tool_now() - p->t0);
        fflush(stderr);
    } else if (!p->tty && done == total) {
        fprintf(stderr, "epoch %d/%d: loss %.4f accuracy %.4f (%.1f s)\n", epoch + 1, p->epochs,
                loss, acc, axmul__tool_now() - p->t0);
    }
}
