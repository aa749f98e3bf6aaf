/* axmul: layers that only rearrange or combine activations: flatten (NHWC is already flat per
 * image), add, the elementwise sum of earlier layers' outputs (residual blocks), and concat,
 * their channels side by side (Inception, DenseNet, U-Net). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "lib/core/internal.h"
#include "lib/net/net.h"

static axmul_status flatten_resolve(axmul_model *m, int i, const char *path)
{
    axmul__layer *l = &m->L[i];
    (void)path;
    l->oc = l->ih * l->iw * l->ic;
    l->oh = l->ow = 1;
    return AXMUL_OK;
}

static axmul_status flatten_forward(const axmul__fwd *f, const axmul__layer *l,
                                    const float *const *in, float *y)
{
    if (y != in[0]) /* (inference runs it in place: nothing to do) */
        memcpy(y, in[0], (size_t)f->n * l->ih * l->iw * l->ic * sizeof(float));
    return AXMUL_OK;
}

/* ---------------------------------------------------------------- add, concat */

/* "inputs": 2 .. AXMUL__MAX_MERGE earlier layers (resolved to indices by the loader). */
static axmul_status merge_parse(const axmul__parse *ps, json_t *jl, const char *type,
                                axmul__layer *l)
{
    (void)type;
    json_t *in = json_object_get(jl, "inputs");
    const size_t n = json_is_array(in) ? json_array_size(in) : 0;
    int ok = n >= 2 && n <= AXMUL__MAX_MERGE;
    for (size_t k = 0; ok && k < n; k++)
        ok = json_is_string(json_array_get(in, k));
    if (!ok)
        return axmul__fail(AXMUL_ERR_FORMAT,
                           "%s: layer %d (%s): \"inputs\" must name 2 to %d earlier layers",
                           ps->path, ps->index, l->name, AXMUL__MAX_MERGE);
    for (size_t k = 0; k < n; k++) {
        const char *nm = json_string_value(json_array_get(in, k));
        if (strlen(nm) >= sizeof l->add_name[k])
            return axmul__fail(AXMUL_ERR_FORMAT,
                               "%s: layer %d (%s): \"inputs\" '%.80s...' is not an earlier "
                               "layer (names are at most %zu bytes)",
                               ps->path, ps->index, l->name, nm, sizeof l->add_name[k] - 1);
        snprintf(l->add_name[k], sizeof l->add_name[k], "%s", nm);
    }
    l->nadd = (int)n;
    return AXMUL_OK;
}

static axmul_status merge_save(const axmul_model *m, int i, json_t *jl, const char *dir)
{
    const axmul__layer *l = &m->L[i];
    (void)dir;
    json_t *a = json_array();
    for (int k = 0; k < l->nadd; k++)
        json_array_append_new(a, json_string(m->L[l->add[k]].name));
    json_object_set_new(jl, "inputs", a);
    return AXMUL_OK;
}

/* add: every input of one shape; concat: one height and width, the channels stacked (NHWC:
 * the last axis, Keras' Concatenate and torch.cat(dim=1) of NCHW). */
static axmul_status merge_resolve(axmul_model *m, int i, const char *path)
{
    axmul__layer *l = &m->L[i];
    const axmul__layer *p = &m->L[l->add[0]];
    const int cat = l->kind == AXMUL__L_CONCAT;
    int c = 0;
    for (int k = 0; k < l->nadd; k++) {
        const axmul__layer *q = &m->L[l->add[k]];
        if (p->oh != q->oh || p->ow != q->ow || (!cat && p->oc != q->oc))
            return axmul__fail(
                AXMUL_ERR_SHAPE, "%s: layer %d (%s) %s %s (%dx%dx%d) and %s (%dx%dx%d)%s", path, i,
                l->name, cat ? "concatenates" : "adds", p->name, p->oh, p->ow, p->oc, q->name,
                q->oh, q->ow, q->oc, cat ? " (the heights and widths must agree)" : "");
        l->addc[k] = q->oc;
        c += q->oc;
    }
    l->ih = l->oh = p->oh;
    l->iw = l->ow = p->ow;
    l->ic = p->oc;
    l->oc = cat ? c : p->oc;
    return AXMUL_OK;
}

/* The inputs summed in their order, from the first. */
static axmul_status add_forward(const axmul__fwd *f, const axmul__layer *l, const float *const *in,
                                float *y)
{
    const size_t n = (size_t)f->n * l->oh * l->ow * l->oc;
    const int nt = f->nt, na = l->nadd;
    (void)nt;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) if (n >= AXMUL__PAR_MIN)
#endif
    for (size_t e = 0; e < n; e++) {
        float v = in[0][e] + in[1][e];
        for (int k = 2; k < na; k++)
            v += in[k][e];
        y[e] = v;
    }
    return AXMUL_OK;
}

static void add_backward(const axmul__bwd *b, const axmul__layer *l, const float *const *in,
                         const float *y, const float *g, float *const *dx)
{
    const size_t n = (size_t)b->n * l->oh * l->ow * l->oc;
    (void)in, (void)y;
    for (int k = 0; k < l->nadd; k++)
        for (size_t e = 0; dx[k] && e < n; e++)
            dx[k][e] += g[e];
}

static axmul_status concat_forward(const axmul__fwd *f, const axmul__layer *l,
                                   const float *const *in, float *y)
{
    const size_t pix = (size_t)f->n * l->oh * l->ow;
    for (size_t p = 0; p < pix; p++) {
        float *yp = y + p * l->oc;
        for (int k = 0; k < l->nadd; k++) {
            const int c = l->addc[k];
            memcpy(yp, in[k] + p * c, (size_t)c * sizeof *yp);
            yp += c;
        }
    }
    return AXMUL_OK;
}

static void concat_backward(const axmul__bwd *b, const axmul__layer *l, const float *const *in,
                            const float *y, const float *g, float *const *dx)
{
    const size_t pix = (size_t)b->n * l->oh * l->ow;
    (void)in, (void)y;
    for (size_t p = 0; p < pix; p++) {
        const float *gp = g + p * l->oc;
        for (int k = 0; k < l->nadd; k++) {
            const int c = l->addc[k];
            for (int e = 0; dx[k] && e < c; e++)
                dx[k][p * c + e] += gp[e];
            gp += c;
        }
    }
}

/* clang-format off */
const axmul__layer_ops axmul__layer_flatten = {
    .type = "flatten", .in_place = 1, .resolve = flatten_resolve, .forward = flatten_forward,
    .backward = axmul__pass_backward, .keys = ""};
/* clang-format on */

/* clang-format off */
const axmul__layer_ops axmul__layer_add = {
    .type = "add", .parse = merge_parse, .resolve = merge_resolve, .save = merge_save,
    .forward = add_forward, .backward = add_backward, .keys = "inputs", .merge = 1};
/* clang-format on */

/* clang-format off */
const axmul__layer_ops axmul__layer_concat = {
    .type = "concat", .parse = merge_parse, .resolve = merge_resolve, .save = merge_save,
    .forward = concat_forward, .backward = concat_backward, .keys = "inputs", .merge = 1};
/* clang-format on */
