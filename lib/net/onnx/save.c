/* axmul: writing an ONNX model back: the file as it was read, with axmul's calibrated ranges in
 * its metadata (axmul:range:NODE and axmul:range_b:NODE = "min max", the ranges of a LUT layer's
 * two operands), which load.c reads; other metadata is kept. Written atomically. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/internal.h"
#include "lib/net/onnx/onnx.h"
#include "lib/net/onnx/onnx.pb-c.h"

axmul_status axmul__onnx_save(const axmul__onnx *g, const char *path)
{
    Onnx__ModelProto *m = g->proto;
    const size_t keep_max = m->n_metadata_props, nr = 2 * (size_t)g->nnodes;
    Onnx__StringStringEntryProto **props = calloc(keep_max + nr + 1, sizeof *props);
    Onnx__StringStringEntryProto *mine = calloc(nr + 1, sizeof *mine);
    char *text = calloc(nr + 1, 320);
    axmul_status s = AXMUL_OK;
    if (!props || !mine || !text) {
        s = axmul__fail(AXMUL_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t np = 0, nm = 0;
    for (size_t k = 0; k < keep_max; k++) {
        const char *key = m->metadata_props[k]->key;
        if (!key || strncmp(key, "axmul:range", 11) != 0)
            props[np++] = m->metadata_props[k];
    }
    for (int i = 0; i < g->nnodes; i++)
        for (int w = 0; w < 2; w++) {
            const axmul__node *n = &g->nodes[i];
            if (!n->has_range[w])
                continue;
            char *key = text + 320 * nm, *val = key + 256;
            snprintf(key, 256, "axmul:range%s:%s", w ? "_b" : "", n->name);
            snprintf(val, 64, "%.9g %.9g", (double)n->range[w].min, (double)n->range[w].max);
            onnx__string_string_entry_proto__init(&mine[nm]);
            mine[nm].key = key;
            mine[nm].value = val;
            props[np++] = &mine[nm++];
        }
    Onnx__StringStringEntryProto **old = m->metadata_props;
    m->metadata_props = props; /* for the packing only: restored below */
    m->n_metadata_props = np;
    const size_t len = onnx__model_proto__get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);
    if (buf) {
        onnx__model_proto__pack(m, buf);
        s = axmul__write_file_atomic(path, buf, len);
    } else
        s = axmul__fail(AXMUL_ERR_NOMEM, "out of memory (%zu bytes for %s)", len, path);
    m->metadata_props = old;
    m->n_metadata_props = keep_max;
    free(buf);
out:
    free(props);
    free(mine);
    free(text);
    return s;
}
