/* axmul: running an ONNX graph: the plan for the inputs' shapes (plan.c), then its steps in
 * order, each node's inputs converted to the layout its operator takes, the LUT layers given the
 * tables that the options select, and calibration's observations of their operands. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "lib/core/internal.h"
#include "lib/net/onnx/runtime.h"

/* min/max of a LUT layer's operand t into observe[slot] (calibration). */
static axmul_status observe(const axmul__onnx *g, const axmul__node *n, const axmul__tensor *t,
                            const axmul__onnx_watch *w, int slot)
{
    if (t->dt != AXMUL__DT_FLOAT || axmul__shape_count(&t->sh) == 0)
        return AXMUL_OK;
    axmul_range rg;
    axmul_status s = axmul_range_of(t->data, (size_t)axmul__shape_count(&t->sh), n->name, &rg);
    if (s != AXMUL_OK)
        return axmul__fail(s, "%s: node %s (%s): %s", g->path, n->name, n->op,
                           axmul_error_detail());
    axmul_range *o = &w->observe[slot];
    if (!w->observed[slot] || rg.min < o->min)
        o->min = rg.min;
    if (!w->observed[slot] || rg.max > o->max)
        o->max = rg.max;
    w->observed[slot] = 1;
    return AXMUL_OK;
}

/* One step: inputs converted, observed, the kernel run. Returns 1 in *stopped at the watch's
 * stop node (after observing it). */
static axmul_status run_step(axmul__onnx *g, axmul__onnx_run *r, axmul__onnx_step *st,
                             const axmul_net_options *o, const axmul__onnx_watch *w, int *stopped)
{
    const axmul__node *n = &g->nodes[st->node];
    const axmul__tensor *in[64], *conv[64];
    axmul__tensor tmp[64], outs[16];
    const axmul__tensor none = {0};
    for (int k = 0; k < 64; k++)
        in[k] = conv[k] = k < n->nin && n->in[k] >= 0 ? &r->val[n->in[k]] : NULL;
    axmul_status s = axmul__onnx_convert_inputs(g, n, st, in, tmp, conv);
    if (s == AXMUL_OK && w && w->observe && n->approx) {
        s = observe(g, n, conv[0], w, 2 * st->node);
        if (s == AXMUL_OK && n->approx == AXMUL_APPROX_MATMUL && n->nin > 1)
            s = observe(g, n, conv[1], w, 2 * st->node + 1);
    }
    if (w && st->node >= w->stop)
        *stopped = 1;
    if (s == AXMUL_OK && !*stopped) {
        for (int k = 0; k < n->nout; k++)
            outs[k] = n->out[k] >= 0 ? r->val[n->out[k]] : none;
        axmul__onnx_ctx c;
        axmul__onnx_step_ctx(g, r, st, o, axmul__onnx_node_table(g, st->node, o), &c);
#ifdef _OPENMP
        if (!o || o->threads <= 0)
            c.nt = omp_get_max_threads();
#endif
        s = axmul__onnx_op_of(n->kind)->run(&c, conv, outs);
        if (s == AXMUL_OK && o && o->layer_output && n->approx && n->out[0] >= 0)
            o->layer_output(o->ctx, st->node, outs[0].data,
                            (size_t)axmul__shape_count(&outs[0].sh));
    }
    for (int k = 0; k < n->nin; k++)
        axmul__tensor_release(&tmp[k]);
    return s;
}

/* Output k into out (plain layout, a copy the caller owns). */
static axmul_status copy_output(const axmul__tensor *t, axmul__tensor *out)
{
    axmul__tensor tmp;
    const axmul__tensor *p;
    axmul_status s = axmul__tensor_plain(t, &tmp, &p);
    if (s != AXMUL_OK)
        return s;
    memset(out, 0, sizeof *out);
    out->dt = p->dt;
    out->sh = p->sh;
    if ((s = axmul__tensor_alloc(out, "output")) == AXMUL_OK)
        memcpy(out->data, p->data, (size_t)axmul__shape_count(&p->sh) * axmul__dt_size(p->dt));
    axmul__tensor_release(&tmp);
    return s;
}

axmul_status axmul__onnx_forward(axmul__onnx *g, const axmul_net_options *o,
                                 const axmul__tensor *inputs, axmul__tensor *out,
                                 const axmul__onnx_watch *w)
{
    for (int i = 0; o && o->layer_tables && i < g->nnodes; i++)
        if (o->layer_tables[i] && !g->nodes[i].approx)
            return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT,
                               "%s: node %s is a %s: only Conv, Gemm and MatMul nodes (not folded "
                               "into constants) take a table",
                               g->path, g->nodes[i].name, g->nodes[i].op);
    pthread_mutex_lock(&g->lock);
    axmul__onnx_run *r;
    axmul_status s = axmul__onnx_plan(g, inputs, &r);
    for (int k = 0; k < g->ninputs && s == AXMUL_OK; k++)
        if (!r->by_value[k]) /* (those are the plan's constants) */
            r->val[g->inputs[k]].data = inputs[k].data;
    int stopped = 0;
    for (int k = 0; k < (s == AXMUL_OK ? r->nsteps : 0) && s == AXMUL_OK && !stopped; k++)
        if (!r->steps[k].alias)
            s = run_step(g, r, &r->steps[k], o, w, &stopped);
    for (int k = 0; k < g->noutputs && s == AXMUL_OK && out; k++)
        if ((s = copy_output(&r->val[g->outputs[k]], &out[k])) != AXMUL_OK)
            while (k-- > 0)
                axmul__tensor_release(&out[k]);
    if (s == AXMUL_OK)
        for (int k = 0; k < g->ninputs; k++)
            if (!r->by_value[k])
                r->val[g->inputs[k]].data = NULL; /* the caller's: not kept */
    pthread_mutex_unlock(&g->lock);
    return s;
}

axmul_status axmul__onnx_shapes(axmul__onnx *g, const axmul__tensor *inputs, axmul__shape *shapes)
{
    pthread_mutex_lock(&g->lock);
    axmul__onnx_run *r;
    axmul_status s = axmul__onnx_plan(g, inputs, &r);
    if (s == AXMUL_OK)
        memcpy(shapes, r->node_shape, sizeof *shapes * (size_t)g->nnodes);
    pthread_mutex_unlock(&g->lock);
    return s;
}
