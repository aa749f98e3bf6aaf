/* axmul: writing model folders: model.json and one .npy file per tensor, each file atomically.
 * The fields every layer has are written here, each kind's own by its save operation. */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "axmul_npy.h"
#include "lib/core/internal.h"
#include "lib/net/model_io.h"
#include "lib/net/net.h"

axmul_status axmul__save_tensor(const char *dir, const char *file, const float *data,
                                const size_t *shape, int ndim)
{
    const char *why = axmul__plain_name_why(file, 160);
    if (why) /* never a path built from model data unchecked */
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: tensor file name '%s' refused: %s", dir, file,
                           why);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return axmul_npy_save_f32(path, data, shape, ndim);
}

/* The weights, bias (zeros where the layer has none) and calibrated input range of a conv2d or
 * dense layer, as NAME_weights.npy and NAME_bias.npy. */
static axmul_status save_params(const axmul__layer *l, json_t *jl, const char *dir)
{
    char wf[160], bf[160];
    snprintf(wf, sizeof wf, "%s_weights.npy", l->name);
    snprintf(bf, sizeof bf, "%s_bias.npy", l->name);
    json_object_set_new(jl, "weights", json_string(wf));
    json_object_set_new(jl, "bias", json_string(bf));
    size_t ws[4], bs[1] = {(size_t)l->units};
    int nd;
    if (l->kind == AXMUL__L_CONV) {
        ws[0] = (size_t)l->kh;
        ws[1] = (size_t)l->kw;
        ws[2] = (size_t)(l->ic / l->groups);
        ws[3] = (size_t)l->units;
        nd = 4;
    } else {
        ws[0] = (size_t)l->ic;
        ws[1] = (size_t)l->units;
        nd = 2;
    }
    axmul_status s = axmul__save_tensor(dir, wf, l->w, ws, nd);
    float *zero = NULL;
    if (s == AXMUL_OK) {
        const float *b = l->b;
        if (!b)
            b = zero = calloc((size_t)l->units, sizeof(float));
        s = b ? axmul__save_tensor(dir, bf, b, bs, 1)
              : axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
        free(zero);
    }
    if (l->has_range)
        json_object_set_new(jl, "input_range",
                            json_pack("[f, f]", (double)l->in_range.min, (double)l->in_range.max));
    return s;
}

/* model.json's text with a final newline, written atomically. */
static axmul_status write_json(json_t *root, const char *dir)
{
    /* floats as the shortest text that reads back to the same float32 */
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    if (!text)
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    char path[4096];
    snprintf(path, sizeof path, "%s/model.json", dir);
    size_t tl = strlen(text);
    char *withnl = malloc(tl + 2);
    axmul_status s;
    if (withnl) {
        memcpy(withnl, text, tl);
        withnl[tl] = '\n';
        s = axmul_file_write_atomic(path, withnl, tl + 1);
        free(withnl);
    } else
        s = axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    free(text);
    return s;
}

axmul_status axmul_model_save(const axmul_model *m, const char *dir)
{
    axmul_error_clear();
    if (!m || !dir)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_model_save: NULL argument");
    AXMUL__IF_ONNX(m, axmul__ox_save(m, dir));
    /* the folder is written beside the target and swapped in whole: a full disk or a signal
     * never leaves a mix of old and new tensors that would load */
    const char *target = dir;
    char *staging;
    axmul_status s = axmul_dir_stage(target, &staging);
    if (s != AXMUL_OK)
        return s;
    dir = staging;
    json_t *root = json_object(), *layers = json_array();
    json_object_set_new(root, "format", json_string("axmul-model"));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "name", json_string(m->name));
    json_object_set_new(root, "input_shape", json_pack("[i, i, i]", m->in_h, m->in_w, m->in_c));
    for (int i = 0; i < m->nl && s == AXMUL_OK; i++) {
        const axmul__layer *l = &m->L[i];
        json_t *jl = json_object();
        json_object_set_new(jl, "type", json_string(l->ops->type));
        json_object_set_new(jl, "name", json_string(l->name));
        if (l->src)
            json_object_set_new(jl, "input", json_string(m->L[l->src - 1].name));
        if (l->ops->save)
            s = l->ops->save(m, i, jl, dir);
        if (s == AXMUL_OK && l->ops->params)
            s = save_params(l, jl, dir);
        json_array_append_new(layers, jl);
    }
    json_object_set_new(root, "layers", layers);
    if (s == AXMUL_OK)
        s = write_json(root, dir);
    json_decref(root);
    if (s != AXMUL_OK) {
        axmul_dir_discard(staging);
        return s;
    }
    return axmul_dir_commit(staging, target);
}
