/* ONNX's own backend node tests (Debian's libonnx-testdata: DIR/test_NAME/model.onnx with
 * test_data_set_0/input_N.pb and output_N.pb) run through axmul's ONNX runtime in float, the
 * outputs compared as ONNX's backend runner compares them (rtol 1e-3, atol 1e-7; integers and
 * booleans exactly). A model refused as unsupported (an operator, attribute or type outside
 * doc/models.md's list) is counted, not failed; a test that runs and differs fails, unless the
 * expectations file lists it with its reason.
 *
 * --must-pass FILE lists tests (DIR's folder name/test name) that must run and pass: one that is
 * refused as unsupported is then a failure too (a regression in what the runtime supports).
 *
 * Usage: onnx_node_tests DIR [--expect FILE] [--must-pass FILE] [--verbose]. Exit 0: no
 * unexpected failure; 1: some; 77: DIR absent (the package is not installed); 2: usage. */
#include "config.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/internal.h"
#include "lib/net/onnx/onnx.h"

#define MAX_IO 16

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The listed tests (one name per line, then a reason; '#' comments). */
static char **read_expect(const char *path, int *n)
{
    FILE *f = fopen(path, "r");
    char line[1024], **v = NULL;
    *n = 0;
    if (!f) {
        fprintf(stderr, "onnx_node_tests: %s: cannot open\n", path);
        exit(2);
    }
    while (fgets(line, sizeof line, f)) {
        char name[256];
        if (line[0] == '#' || sscanf(line, "%255s", name) != 1)
            continue;
        v = realloc(v, sizeof *v * (size_t)(*n + 1));
        v[(*n)++] = strdup(name);
    }
    fclose(f);
    return v;
}

static int listed(char **v, int n, const char *name)
{
    for (int k = 0; k < n; k++)
        if (strcmp(v[k], name) == 0)
            return 1;
    return 0;
}

/* Compares got with want; 0 when equal within the tolerances, else a reason in why. */
static int compare(const axmul__tensor *got, const axmul__tensor *want, char *why, size_t len)
{
    char a[128], b[128];
    if (got->dt != want->dt) {
        snprintf(why, len, "type %s, expected %s", axmul__dt_name(got->dt),
                 axmul__dt_name(want->dt));
        return 1;
    }
    if (got->sh.rank != want->sh.rank ||
        memcmp(got->sh.d, want->sh.d, sizeof got->sh.d[0] * (size_t)got->sh.rank) != 0) {
        snprintf(why, len, "shape %s, expected %s", axmul__shape_text(&got->sh, a, sizeof a),
                 axmul__shape_text(&want->sh, b, sizeof b));
        return 1;
    }
    const int64_t n = axmul__shape_count(&got->sh);
    for (int64_t k = 0; k < n; k++) {
        const double g = axmul__tensor_real(got, k), w = axmul__tensor_real(want, k);
        const int ok = got->dt == AXMUL__DT_FLOAT
                           ? (isnan(g) && isnan(w)) || g == w || fabs(g - w) <= 1e-7 + 1e-3 * fabs(w)
                           : axmul__tensor_int(got, k) == axmul__tensor_int(want, k);
        if (!ok) {
            snprintf(why, len, "element %lld is %.9g, expected %.9g", (long long)k, g, w);
            return 1;
        }
    }
    return 0;
}

/* Runs one test: 0 passed, 1 failed, 2 unsupported (why says which). */
static int run_test(const char *dir, char *why, size_t len)
{
    char path[4200];
    axmul__onnx *g = NULL;
    axmul__tensor *in[MAX_IO] = {0}, *want[MAX_IO] = {0}, got[MAX_IO];
    int rc = 1, ni = 0, no = 0;
    memset(got, 0, sizeof got);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    axmul_status s = axmul__onnx_load(path, &g);
    if (s != AXMUL_OK) {
        snprintf(why, len, "%s", axmul_error_detail());
        return s == AXMUL_ERR_UNSUPPORTED ? 2 : 1;
    }
    for (ni = 0; ni < g->ninputs && ni < MAX_IO; ni++) {
        snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, ni);
        if ((s = axmul__onnx_tensor_load(path, &in[ni])) != AXMUL_OK) {
            snprintf(why, len, "%s", axmul_error_detail());
            rc = s == AXMUL_ERR_UNSUPPORTED || s == AXMUL_ERR_FORMAT ? 2 : 1;
            goto out;
        }
    }
    for (no = 0; no < g->noutputs && no < MAX_IO; no++) {
        snprintf(path, sizeof path, "%s/test_data_set_0/output_%d.pb", dir, no);
        if ((s = axmul__onnx_tensor_load(path, &want[no])) != AXMUL_OK) {
            snprintf(why, len, "%s", axmul_error_detail());
            rc = s == AXMUL_ERR_UNSUPPORTED || s == AXMUL_ERR_FORMAT ? 2 : 1;
            goto out;
        }
    }
    if (g->ninputs > MAX_IO || g->noutputs > MAX_IO) {
        snprintf(why, len, "more than %d inputs or outputs", MAX_IO);
        rc = 2;
        goto out;
    }
    axmul__tensor args[MAX_IO];
    for (int k = 0; k < ni; k++)
        args[k] = *in[k];
    if ((s = axmul__onnx_forward(g, NULL, args, got, NULL)) != AXMUL_OK) {
        snprintf(why, len, "%s", axmul_error_detail());
        rc = s == AXMUL_ERR_UNSUPPORTED ? 2 : 1;
        goto out;
    }
    rc = 0;
    for (int k = 0; k < no && rc == 0; k++)
        if (compare(&got[k], want[k], why, len)) {
            char tmp[512];
            snprintf(tmp, sizeof tmp, "output %s: %s", g->v[g->outputs[k]].name, why);
            snprintf(why, len, "%s", tmp);
            rc = 1;
        }
    for (int k = 0; k < no; k++)
        axmul__tensor_release(&got[k]);
out:
    for (int k = 0; k < MAX_IO; k++) {
        axmul__tensor_free(in[k]);
        axmul__tensor_free(want[k]);
    }
    axmul__onnx_free(g);
    return rc;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *expect = NULL, *must = NULL;
    int verbose = 0;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--expect") == 0 && k + 1 < argc)
            expect = argv[++k];
        else if (strcmp(argv[k], "--must-pass") == 0 && k + 1 < argc)
            must = argv[++k];
        else if (strcmp(argv[k], "--verbose") == 0)
            verbose = 1;
        else if (!dir && argv[k][0] != '-')
            dir = argv[k];
        else {
            fprintf(stderr, "usage: onnx_node_tests DIR [--expect FILE] [--verbose]\n");
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "usage: onnx_node_tests DIR [--expect FILE] [--verbose]\n");
        return 2;
    }
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "onnx_node_tests: %s: no such folder (Debian: libonnx-testdata)\n", dir);
        return 77;
    }
    char **names = NULL;
    int n = 0, nexp = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strncmp(e->d_name, "test_", 5) == 0) {
            names = realloc(names, sizeof *names * (size_t)(n + 1));
            names[n++] = strdup(e->d_name);
        }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_names);
    char **exp = expect ? read_expect(expect, &nexp) : NULL;
    int nmust = 0, lost = 0;
    char **mp = must ? read_expect(must, &nmust) : NULL;
    const char *set = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    int pass = 0, unsup = 0, fail = 0, expected = 0, fixed = 0;
    for (int k = 0; k < n; k++) {
        char path[4000], why[1024] = "";
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        const int r = run_test(path, why, sizeof why), ex = listed(exp, nexp, names[k]);
        if (r == 0) {
            pass++;
            if (verbose)
                printf("pass %s/%s\n", set, names[k]);
            if (ex) {
                fixed++;
                printf("FIXED %s (listed in %s: remove it)\n", names[k], expect);
            }
        } else if (r == 2) {
            char full[600];
            snprintf(full, sizeof full, "%s/%s", set, names[k]);
            unsup++;
            if (listed(mp, nmust, full)) {
                lost++;
                printf("FAIL %s: refused, but listed in %s: %s\n", names[k], must, why);
            } else if (verbose)
                printf("unsupported %s: %s\n", names[k], why);
        } else if (ex) {
            expected++;
            if (verbose)
                printf("known %s: %s\n", names[k], why);
        } else {
            fail++;
            printf("FAIL %s: %s\n", names[k], why);
        }
    }
    printf("onnx node tests: %d run, %d passed, %d failed, %d known failures (%s), %d refused as "
           "unsupported\n",
           n - unsup, pass, fail, expected, expect ? expect : "none listed", unsup);
    for (int k = 0; k < n; k++)
        free(names[k]);
    for (int k = 0; k < nexp; k++)
        free(exp[k]);
    for (int k = 0; k < nmust; k++)
        free(mp[k]);
    free(mp);
    free(names);
    free(exp);
    return fail || fixed || lost ? 1 : 0;
}
