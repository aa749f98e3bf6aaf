/* axmul: reading model folders: model.json (parsed with jansson, doc/models.md) and one .npy
 * file per tensor. The fields every layer has are read here, each kind's own by its parse
 * operation (lib/net/layers). */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "axmul_npy.h"
#include "lib/core/internal.h"
#include "lib/net/model_io.h"
#include "lib/net/net.h"

axmul_status axmul__json_ints(json_t *v, int *out, int n, int dflt, const char *what,
                              const char *path, int layer)
{
    char where[32] = ""; /* layer -1: a model-level field */
    if (layer >= 0)
        snprintf(where, sizeof where, "layer %d: ", layer);
    if (!v) {
        for (int i = 0; i < n; i++)
            out[i] = dflt;
        return AXMUL_OK;
    }
    int scalar = json_is_integer(v);
    if (!scalar && (!json_is_array(v) || (int)json_array_size(v) != n))
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: %s'%s' must be an integer or a list of %d", path,
                           where, what, n);
    for (int i = 0; i < n; i++) {
        json_t *e = scalar ? v : json_array_get(v, (size_t)i);
        /* range-checked before the cast: 4294967299 must not become 3 */
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > 1 << 20)
            return axmul__fail(AXMUL_ERR_FORMAT,
                               "%s: %s'%s' holds a non-integer or out-of-range value (allowed: "
                               "0 .. %d)",
                               path, where, what, 1 << 20);
        out[i] = (int)json_integer_value(e);
    }
    return AXMUL_OK;
}

axmul_status axmul__load_tensor(const axmul__parse *ps, const char *file, float **data,
                                size_t *count)
{
    const char *dir = ps->dir, *path = ps->path;
    const int layer = ps->index;
    if (strchr(file, '/') || strcmp(file, "..") == 0 || !*file)
        return axmul__fail(
            AXMUL_ERR_FORMAT,
            "%s: layer %d: tensor file '%s' must be a plain name in the model folder", path, layer,
            file);
    char full[4096];
    snprintf(full, sizeof full, "%s/%s", dir, file);
    axmul_npy *a;
    axmul_status s = axmul_npy_load(full, &a);
    if (s != AXMUL_OK)
        return s;
    const float *f;
    if ((s = axmul_npy_f32(a, &f)) != AXMUL_OK) {
        axmul_npy_free(a);
        return s;
    }
    size_t n = axmul_npy_count(a);
    float *copy = malloc((n ? n : 1) * sizeof *copy);
    if (!copy) {
        axmul_npy_free(a);
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", full);
    }
    memcpy(copy, f, n * sizeof *copy);
    axmul_npy_free(a);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(copy[i])) {
            free(copy);
            return axmul__fail(AXMUL_ERR_NONFINITE, "%s: element %zu is not finite", full, i);
        }
    *data = copy;
    *count = n;
    return AXMUL_OK;
}

/* Edit distance (Levenshtein) of two short keys, for "did you mean" hints; long keys are
 * cut at 63 bytes, which is plenty to tell field names apart. */
static int edit_distance(const char *a, const char *b)
{
    int la = (int)strnlen(a, 63), lb = (int)strnlen(b, 63), row[64];
    for (int j = 0; j <= lb; j++)
        row[j] = j;
    for (int i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = i;
        for (int j = 1; j <= lb; j++) {
            const int up = row[j], sub = diag + (a[i - 1] != b[j - 1]);
            row[j] = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
            if (sub < row[j])
                row[j] = sub;
            diag = up;
        }
    }
    return row[lb];
}

/* Every key of obj must be one of the space-separated lists (NULL entries skipped); an
 * unknown key is refused with the nearest valid one (a prefix counts as near: "eps" for
 * "epsilon"). where: "layer 3 (conv1)" or "the model". */
static axmul_status check_keys(json_t *obj, const char *const *lists, int nlists, const char *path,
                               const char *where)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        int found = 0, best_d = 1 << 30;
        char best[64] = "", valid[512] = "";
        size_t vl = 0;
        for (int k = 0; k < nlists && !found; k++)
            for (const char *p = lists[k]; p && *p && !found;) {
                const size_t n = strcspn(p, " ");
                char cand[64];
                snprintf(cand, sizeof cand, "%.*s", (int)n, p);
                found = strcmp(cand, key) == 0;
                int d = edit_distance(key, cand);
                if (strlen(key) >= 3 && strncmp(cand, key, strlen(key)) == 0)
                    d = 1; /* a prefix: the short form of the field */
                if (d < best_d) {
                    best_d = d;
                    snprintf(best, sizeof best, "%s", cand);
                }
                if (vl < sizeof valid)
                    vl += (size_t)snprintf(valid + vl, sizeof valid - vl, "%s%s", vl ? ", " : "",
                                           cand);
                p += n;
                p += *p == ' ';
            }
        if (found)
            continue;
        /* a hint only when the names are close: a third of the key's letters or fewer differ */
        if (best[0] && best_d <= 1 + (int)strlen(key) / 3)
            return axmul__fail(AXMUL_ERR_FORMAT,
                               "%s: %s: unknown field \"%.64s\" (did you mean \"%s\"? fields "
                               "here: %s)",
                               path, where, key, best, valid);
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: %s: unknown field \"%.64s\" (fields here: %s)",
                           path, where, key, valid);
    }
    return AXMUL_OK;
}

/* The weights, bias and calibrated input range of a conv2d or dense layer. */
static axmul_status parse_params(const axmul__parse *ps, json_t *jl, axmul__layer *l)
{
    const char *path = ps->path;
    const int i = ps->index;
    axmul_status s;
    const char *wf = json_string_value(json_object_get(jl, "weights"));
    if (!wf)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d (%s): \"weights\" file missing", path, i,
                           l->name);
    snprintf(l->wfile, sizeof l->wfile, "%s", wf);
    if ((s = axmul__load_tensor(ps, wf, &l->w, &l->nw)))
        return s;
    json_t *bj = json_object_get(jl, "bias");
    if (bj && !json_is_null(bj)) {
        const char *bf = json_string_value(bj);
        if (!bf)
            return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d: \"bias\" must be a file name", path,
                               i);
        snprintf(l->bfile, sizeof l->bfile, "%s", bf);
        if ((s = axmul__load_tensor(ps, bf, &l->b, &l->nb)))
            return s;
    }
    json_t *r = json_object_get(jl, "input_range");
    if (r && !json_is_null(r)) {
        if (!json_is_array(r) || json_array_size(r) != 2 || !json_is_number(json_array_get(r, 0)) ||
            !json_is_number(json_array_get(r, 1)))
            return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d: \"input_range\" must be [min, max]",
                               path, i);
        l->in_range.min = (float)json_number_value(json_array_get(r, 0));
        l->in_range.max = (float)json_number_value(json_array_get(r, 1));
        axmul_qparams q;
        if (axmul_qparams_from_range(l->in_range, 0, l->name, &q) != AXMUL_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", axmul_error_detail());
            return axmul__fail(AXMUL_ERR_RANGE, "%s: layer %d: %s", path, i, why);
        }
        l->has_range = 1;
    }
    return AXMUL_OK;
}

/* Layer ps->index: the fields every layer has (type, name, input), the kind's own (its parse
 * operation) and those of layers with weights. */
static axmul_status parse_layer(const axmul__parse *ps, json_t *jl, axmul__layer *l)
{
    const char *path = ps->path;
    const int i = ps->index;
    if (!json_is_object(jl))
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d is not an object", path, i);
    const char *type = json_string_value(json_object_get(jl, "type"));
    if (!type)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d has no \"type\"", path, i);
    /* an unnamed layer is named after its type and position, so that saved tensor files of two
     * unnamed layers never share a name */
    json_t *jname = json_object_get(jl, "name");
    const char *name = json_string_value(jname);
    if (jname && !name)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d: \"name\" must be a string", path, i);
    const char *why = name ? axmul__plain_name_why(name, sizeof l->name - 1) : NULL;
    if (why) /* the name names the layer's files in saved models and operand dumps */
        return axmul__fail(AXMUL_ERR_FORMAT,
                           "%s: layer %d: name '%.80s' refused: %s (a layer name is a plain "
                           "file name of at most %zu bytes)",
                           path, i, name, why, sizeof l->name - 1);
    if (name)
        snprintf(l->name, sizeof l->name, "%s", name);
    else
        snprintf(l->name, sizeof l->name, "%.40s_%d", type, i);
    l->sh = l->sw = l->dh = l->dw = l->groups = 1;
    const axmul__layer_kind kind = axmul__layer_kind_of(type);
    if (kind == AXMUL__L_COUNT)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: layer %d: unknown layer type '%s' (known: %s)",
                           path, i, type, axmul__layer_types());
    axmul__layer_set_kind(l, kind);
    char where[128];
    snprintf(where, sizeof where, "layer %d (%s)", i, l->name);
    const char *lists[3] = {"type name input", l->ops->keys,
                            l->ops->params ? "weights bias input_range" : NULL};
    axmul_status s = check_keys(jl, lists, 3, path, where);
    if (s != AXMUL_OK)
        return s;
    if (l->ops->parse && (s = l->ops->parse(ps, jl, type, l)) != AXMUL_OK)
        return s;
    json_t *src = json_object_get(jl, "input");
    if (src && (!json_is_string(src) || l->ops->merge))
        return axmul__fail(AXMUL_ERR_FORMAT,
                           "%s: layer %d (%s): \"input\" must name an earlier layer (add layers "
                           "take \"inputs\")",
                           path, i, l->name);
    if (src && strlen(json_string_value(src)) >= sizeof l->src_name)
        return axmul__fail(AXMUL_ERR_FORMAT,
                           "%s: layer %d (%s): \"input\" '%.80s...' is not "
                           "an earlier layer (names are at most %zu bytes)",
                           path, i, l->name, json_string_value(src), sizeof l->src_name - 1);
    if (src)
        snprintf(l->src_name, sizeof l->src_name, "%s", json_string_value(src));
    return l->ops->params ? parse_params(ps, jl, l) : AXMUL_OK;
}

/* The earlier layer called name, for layer i's reference (what: "input" or "inputs"); -1 and
 * a failure when there is none, or more than one. */
static int find_layer(const axmul_model *m, int i, const char *name, const char *what,
                      const char *path, axmul_status *s)
{
    int found = -1, count = 0;
    for (int j = 0; j < m->nl; j++)
        if (strcmp(m->L[j].name, name) == 0) {
            count++;
            if (j < i && found < 0)
                found = j;
        }
    if (found >= 0 && count == 1)
        return found;
    *s = axmul__fail(AXMUL_ERR_FORMAT,
                     count > 1 ? "%s: layer %d (%s): %s '%s' names %d layers (names a later "
                                 "layer reads must be unique)"
                               : "%s: layer %d (%s): %s '%s' is not an earlier layer",
                     path, i, m->L[i].name, what, name, count);
    return -1;
}

/* Resolves the graph's names ("input", an add's "inputs") to layer indices and marks the
 * layers whose outputs are read out of order. */
static axmul_status link_layers(axmul_model *m, const char *path)
{
    axmul_status s = AXMUL_OK;
    for (int i = 0; i < m->nl; i++) {
        axmul__layer *l = &m->L[i];
        if (l->src_name[0]) {
            int j = find_layer(m, i, l->src_name, "input", path, &s);
            if (j < 0)
                return s;
            l->src = j + 1;
            m->L[j].saved = 1;
        }
        if (l->ops->merge)
            for (int k = 0; k < l->nadd; k++) {
                int j = find_layer(m, i, l->add_name[k], "inputs", path, &s);
                if (j < 0)
                    return s;
                l->add[k] = j;
                m->L[j].saved = 1;
            }
    }
    return AXMUL_OK;
}

axmul_status axmul_model_load(const char *dir, axmul_model **out)
{
    axmul_error_clear();
    if (!dir || !out)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_model_load: NULL argument");
    *out = NULL;
    char path[4096];
    struct stat st;
    if (stat(dir, &st) != 0) {
        int e = errno;
        return axmul__fail(axmul__status_from_errno(e), "%s: %s", dir, strerror(e));
    }
    const size_t dl = strlen(dir);
    if (S_ISREG(st.st_mode) && dl >= 5 && strcmp(dir + dl - 5, ".onnx") == 0) {
#ifdef HAVE_ONNX
        return axmul__ox_load(dir, out);
#else
        return axmul__fail(AXMUL_ERR_NOT_BUILT,
                           "%s: this axmul was built without ONNX import (configure found no "
                           "protobuf-c or onnx.proto: install libprotobuf-c-dev, "
                           "protobuf-c-compiler and libonnx-dev, then configure again)",
                           dir);
#endif
    }
    if (!S_ISDIR(st.st_mode))
        return axmul__fail(AXMUL_ERR_FORMAT, "%s: a model is a folder holding model.json", dir);
    snprintf(path, sizeof path, "%s/model.json", dir);
    uint8_t *text;
    size_t len;
    axmul_status s = axmul__read_file(path, (size_t)16 << 20, &text, &len);
    if (s != AXMUL_OK)
        return s;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root)
        return axmul__fail(AXMUL_ERR_FORMAT, "%s:%d:%d: %s", path, jerr.line, jerr.column,
                           jerr.text);
    axmul_model *m = calloc(1, sizeof *m);
    if (!m) {
        json_decref(root);
        return axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
    }
    const char *fmt = json_string_value(json_object_get(root, "format"));
    json_t *layers = json_object_get(root, "layers");
    int in[3];
    if (!json_is_object(root) || !fmt || strcmp(fmt, "axmul-model") != 0) {
        s = axmul__fail(AXMUL_ERR_FORMAT,
                        "%s: not an axmul model (\"format\": \"axmul-model\" missing)", path);
        goto fail;
    }
    if (json_integer_value(json_object_get(root, "version")) != 1) {
        s = axmul__fail(AXMUL_ERR_UNSUPPORTED, "%s: unsupported model format version (expected 1)",
                        path);
        goto fail;
    }
    static const char *const top[1] = {"format version name input_shape layers"};
    if ((s = check_keys(root, top, 1, path, "the model")) != AXMUL_OK)
        goto fail;
    if ((s = axmul__json_ints(json_object_get(root, "input_shape"), in, 3, -1, "input_shape", path,
                              -1)))
        goto fail;
    m->in_h = in[0];
    m->in_w = in[1];
    m->in_c = in[2];
    const char *nm = json_string_value(json_object_get(root, "name"));
    snprintf(m->name, sizeof m->name, "%s", nm ? nm : "model");
    if (!json_is_array(layers) || json_array_size(layers) == 0 ||
        json_array_size(layers) > AXMUL_MODEL_MAX_LAYERS) {
        s = axmul__fail(AXMUL_ERR_FORMAT,
                        "%s: \"layers\" must be a non-empty list of at most %d layers", path,
                        AXMUL_MODEL_MAX_LAYERS);
        goto fail;
    }
    m->nl = (int)json_array_size(layers);
    m->L = calloc((size_t)m->nl, sizeof *m->L);
    if (!m->L) {
        s = axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < m->nl; i++) {
        const axmul__parse ps = {dir, path, i};
        if ((s = parse_layer(&ps, json_array_get(layers, (size_t)i), &m->L[i])))
            goto fail;
    }
    /* a layer's name names its tensor files when the model is saved (calibrate) */
    for (int i = 0; i < m->nl; i++)
        for (int j = 0; j < i && m->L[i].w; j++)
            if (m->L[j].w && strcmp(m->L[i].name, m->L[j].name) == 0) {
                s = axmul__fail(
                    AXMUL_ERR_FORMAT,
                    "%s: layers %d and %d are both named '%s' (the name of a layer with "
                    "tensors must be unique: it names their files)",
                    path, j, i, m->L[i].name);
                goto fail;
            }
    if ((s = link_layers(m, path)))
        goto fail;
    if ((s = axmul__model_resolve(m, path)))
        goto fail;
    json_decref(root);
    *out = m;
    return AXMUL_OK;
fail:
    json_decref(root);
    axmul_model_free(m);
    return s;
}
