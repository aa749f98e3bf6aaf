/* axmul: layers that only rearrange or combine activations: flatten (NHWC is already flat per
 * image) and add, the elementwise sum of two earlier layers' outputs (residual blocks). */
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

/* ---------------------------------------------------------------- add */

static axmul_status add_parse(const axmul__parse *ps, json_t *jl, const char *type, axmul__layer *l)
{
    (void)type;
    json_t *in = json_object_get(jl, "inputs");
    if (!json_is_array(in) || json_array_size(in) != 2 || !json_is_string(json_array_get(in, 0)) ||
        !json_is_string(json_array_get(in, 1)))
        return axmul__fail(AXMUL_ERR_FORMAT,
                           "%s: layer %d (%s): \"inputs\" must name two earlier layers", ps->path,
                           ps->index, l->name);
    for (int k = 0; k < 2; k++) {
        const char *nm = json_string_value(json_array_get(in, (size_t)k));
        if (strlen(nm) >= sizeof l->add_name[k])
            return axmul__fail(AXMUL_ERR_FORMAT,
                               "%s: layer %d (%s): \"inputs\" '%.80s...' is not an earlier "
                               "layer (names are at most %zu bytes)",
                               ps->path, ps->index, l->name, nm, sizeof l->add_name[k] - 1);
        snprintf(l->add_name[k], sizeof l->add_name[k], "%s", nm);
    }
    return AXMUL_OK;
}

static axmul_status add_save(const axmul_model *m, int i, json_t *jl, const char *dir)
{
    const axmul__layer *l = &m->L[i];
    (void)dir;
    json_object_set_new(jl, "inputs",
                        json_pack("[s, s]", m->L[l->add[0]].name, m->L[l->add[1]].name));
    return AXMUL_OK;
}

static axmul_status add_resolve(axmul_model *m, int i, const char *path)
{
    axmul__layer *l = &m->L[i];
    const axmul__layer *p = &m->L[l->add[0]], *q = &m->L[l->add[1]];
    if (p->oh != q->oh || p->ow != q->ow || p->oc != q->oc)
        return axmul__fail(AXMUL_ERR_SHAPE,
                           "%s: layer %d (%s) adds %s (%dx%dx%d) and %s (%dx%dx%d)", path, i,
                           l->name, p->name, p->oh, p->ow, p->oc, q->name, q->oh, q->ow, q->oc);
    l->ih = l->oh = p->oh;
    l->iw = l->ow = p->ow;
    l->ic = l->oc = p->oc;
    return AXMUL_OK;
}

static axmul_status add_forward(const axmul__fwd *f, const axmul__layer *l, const float *const *in,
                                float *y)
{
    const float *x0 = in[0], *x1 = in[1];
    const size_t n = (size_t)f->n * l->oh * l->ow * l->oc;
    const int nt = f->nt;
    (void)nt;
#ifdef _OPENMP
#pragma omp parallel for simd num_threads(nt) schedule(static) if (n >= AXMUL__PAR_MIN)
#endif
    for (size_t k = 0; k < n; k++)
        y[k] = x0[k] + x1[k];
    return AXMUL_OK;
}

static void add_backward(const axmul__bwd *b, const axmul__layer *l, const float *const *in,
                         const float *y, const float *g, float *const *dx)
{
    const size_t n = (size_t)b->n * l->oh * l->ow * l->oc;
    (void)in, (void)y;
    for (int k = 0; k < 2; k++)
        for (size_t e = 0; e < n; e++)
            dx[k][e] += g[e];
}

const axmul__layer_ops axmul__layer_flatten = {
    "flatten", NULL, 0, 1, NULL, flatten_resolve, NULL, flatten_forward, axmul__pass_backward,
};

const axmul__layer_ops axmul__layer_add = {
    "add", NULL, 0, 0, add_parse, add_resolve, add_save, add_forward, add_backward,
};
