/* axmul: EvoApprox-compatible error metrics. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "axmul_metrics.h"
#include "axmul_npy.h"
#include "lib/core/internal.h"

static axmul_status check_dist(const double *d, const char *which)
{
    if (!d)
        return AXMUL_OK;
    double sum = 0;
    for (int i = 0; i < 256; i++) {
        if (!isfinite(d[i]) || d[i] < 0)
            return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT,
                               "distribution of operand %s: entry %d is %g (must be finite and "
                               ">= 0)",
                               which, i, d[i]);
        sum += d[i];
    }
    if (!(sum > 0))
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT,
                           "distribution of operand %s: all weights are zero", which);
    return AXMUL_OK;
}

/* Exact value of table index i under the given signedness, in value order: for signed tables the
 * i-th smallest operand is -128 + i. */
static unsigned index_of_rank(int is_signed, unsigned rank)
{
    return is_signed ? (rank + 128u) & 255u : rank;
}

static int32_t operand_value(int is_signed, unsigned idx)
{
    return is_signed ? (int32_t)(int8_t)(uint8_t)idx : (int32_t)idx;
}

/* Entries as products (signed interpretation applied), index a*256+b. */
static void products(const axmul_table *t, int32_t *v)
{
    const uint16_t *d = axmul_table_data(t);
    if (axmul_table_is_signed(t))
        for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++)
            v[i] = (int16_t)d[i];
    else
        for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++)
            v[i] = d[i];
}

static void structural(const int32_t *v, int sgn, axmul_metrics *m)
{
    m->commutative = 1;
    m->zero_preserving = 1;
    for (unsigned a = 0; a < 256 && m->commutative; a++)
        for (unsigned b = a + 1; b < 256; b++)
            if (v[a * 256 + b] != v[b * 256 + a]) {
                m->commutative = 0;
                break;
            }
    for (unsigned i = 0; i < 256; i++)
        if (v[i] != 0 || v[i * 256] != 0) {
            m->zero_preserving = 0;
            break;
        }
    long viol = 0;
    for (unsigned r = 0; r + 1 < 256; r++) {
        unsigned lo = index_of_rank(sgn, r), hi = index_of_rank(sgn, r + 1);
        for (unsigned o = 0; o < 256; o++) {
            int32_t other = operand_value(sgn, o);
            /* direction the exact product moves when this operand grows by one */
            int dir = sgn ? (other > 0) - (other < 0) : 1;
            if (dir == 0)
                continue;
            int32_t da = v[hi * 256 + o] - v[lo * 256 + o];
            int32_t db = v[o * 256 + hi] - v[o * 256 + lo];
            viol += (dir > 0 ? da < 0 : da > 0);
            viol += (dir > 0 ? db < 0 : db > 0);
        }
    }
    m->monotone_violations = viol;
}

/* The common uniform case with exact integer sums; sweeps over hundreds of tables spend their
 * time here. */
static void unweighted(const int32_t *v, const int32_t *pr, axmul_metrics *m)
{
    int64_t sabs = 0, ssq = 0, se = 0;
    long wrong = 0, nz = 0;
    int32_t wce = 0, emin = INT32_MAX, emax = INT32_MIN;
    double rel = 0, wcre = 0;
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++) {
        int32_t e = v[i] - pr[i];
        int32_t ae = e < 0 ? -e : e;
        sabs += ae;
        ssq += (int64_t)e * e;
        se += e;
        wrong += e != 0;
        wce = ae > wce ? ae : wce;
        emin = e < emin ? e : emin;
        emax = e > emax ? e : emax;
    }
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++) {
        int32_t p = pr[i];
        if (p == 0)
            continue;
        int32_t e = v[i] - p;
        double r = (double)(e < 0 ? -e : e) / (double)(p < 0 ? -p : p);
        nz++;
        rel += r;
        wcre = r > wcre ? r : wcre;
    }
    const double n = AXMUL_TABLE_ENTRIES;
    m->mae = (double)sabs / n;
    m->mae_percent = m->mae / 65536.0 * 100.0;
    m->wce = wce;
    m->wce_percent = wce / 65536.0 * 100.0;
    m->ep_percent = (double)wrong / n * 100.0;
    m->mse = (double)ssq / n;
    m->mre_percent = nz ? rel / (double)nz * 100.0 : 0.0;
    m->wcre_percent = wcre * 100.0;
    m->mean_error = (double)se / n;
    m->min_error = emin;
    m->max_error = emax;
    /* population variance from exact integer sums: (n*ssq - se^2) / n^2, in long double since
     * n*ssq can reach 2^64 */
    long double var = ((long double)n * (long double)ssq - (long double)se * (long double)se) /
                      ((long double)n * (long double)n);
    m->error_std = var > 0 ? (double)sqrtl(var) : 0.0;
}

static axmul_status compute(const axmul_table *t, const axmul_table *ref, const double *da,
                            const double *db, axmul_metrics *m)
{
    axmul_error_clear();
    if (!t || !m)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_metrics: NULL argument");
    axmul_status s = check_dist(da, "a");
    if (s == AXMUL_OK)
        s = check_dist(db, "b");
    if (s != AXMUL_OK)
        return s;
    int32_t *v = malloc(2 * AXMUL_TABLE_ENTRIES * sizeof *v);
    if (!v)
        return axmul__fail(AXMUL_ERR_NOMEM, "axmul_metrics: out of memory");
    int32_t *pr = v + AXMUL_TABLE_ENTRIES;
    memset(m, 0, sizeof *m);
    int sgn = axmul_table_is_signed(t);
    m->is_signed = sgn;
    m->weighted = da || db;
    products(t, v);
    if (ref) {
        /* the reference is read with the table's signedness */
        const uint16_t *rd = axmul_table_data(ref);
        for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++)
            pr[i] = sgn ? (int16_t)rd[i] : rd[i];
    } else if (sgn) {
        for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++)
            pr[i] = (int32_t)(int8_t)(uint8_t)(i >> 8) * (int32_t)(int8_t)(uint8_t)(i & 255);
    } else {
        for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++)
            pr[i] = (int32_t)((i >> 8) * (i & 255));
    }
    if (!da && !db) {
        unweighted(v, pr, m);
        structural(v, sgn, m);
        free(v);
        return AXMUL_OK;
    }

    double wsum = 0, abs_sum = 0, sq_sum = 0, e_sum = 0, nz_w = 0, wrong_w = 0, rel_sum = 0;
    double wce = 0, wcre = 0;
    int32_t emin = INT32_MAX, emax = INT32_MIN;
    for (unsigned a = 0; a < 256; a++) {
        double wa = da ? da[a] : 1.0;
        if (wa == 0)
            continue;
        for (unsigned b = 0; b < 256; b++) {
            double w = wa * (db ? db[b] : 1.0);
            if (w == 0)
                continue;
            int32_t p = pr[a * 256 + b];
            int32_t e = v[a * 256 + b] - p;
            double ae = fabs((double)e);
            wsum += w;
            abs_sum += w * ae;
            sq_sum += w * ae * ae;
            e_sum += w * e;
            if (e != 0)
                wrong_w += w;
            if (ae > wce)
                wce = ae;
            if (e < emin)
                emin = e;
            if (e > emax)
                emax = e;
            if (p != 0) {
                double rel = ae / fabs((double)p);
                nz_w += w;
                rel_sum += w * rel;
                if (rel > wcre)
                    wcre = rel;
            }
        }
    }
    m->mae = abs_sum / wsum;
    m->mae_percent = m->mae / 65536.0 * 100.0;
    m->wce = wce;
    m->wce_percent = wce / 65536.0 * 100.0;
    m->ep_percent = wrong_w / wsum * 100.0;
    m->mse = sq_sum / wsum;
    m->mre_percent = nz_w > 0 ? rel_sum / nz_w * 100.0 : 0.0;
    m->wcre_percent = wcre * 100.0;
    m->mean_error = e_sum / wsum;
    m->min_error = emin;
    m->max_error = emax;
    /* Second pass for the spread: the sum of squared deviations is better conditioned than
     * mse - mean^2 when the bias dominates. */
    double dev = 0;
    for (unsigned a = 0; a < 256; a++) {
        double wa = da ? da[a] : 1.0;
        if (wa == 0)
            continue;
        for (unsigned b = 0; b < 256; b++) {
            double w = wa * (db ? db[b] : 1.0);
            if (w == 0)
                continue;
            double d = (double)(v[a * 256 + b] - pr[a * 256 + b]) - m->mean_error;
            dev += w * d * d;
        }
    }
    m->error_std = sqrt(dev / wsum);
    structural(v, sgn, m);
    free(v);
    return AXMUL_OK;
}

axmul_status axmul_metrics_compute(const axmul_table *t, const double *dist_a, const double *dist_b,
                                   axmul_metrics *out)
{
    return compute(t, NULL, dist_a, dist_b, out);
}

axmul_status axmul_metrics_compare(const axmul_table *t, const axmul_table *ref,
                                   const double *dist_a, const double *dist_b, axmul_metrics *out)
{
    if (!ref)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_metrics_compare: ref is NULL");
    return compute(t, ref, dist_a, dist_b, out);
}

axmul_status axmul_histogram_load(const char *path, double out[256])
{
    axmul_error_clear();
    if (!path || !out)
        return axmul__fail(AXMUL_ERR_INVALID_ARGUMENT, "axmul_histogram_load: NULL argument");
    size_t plen = strlen(path);
    if (plen >= 4 && strcmp(path + plen - 4, ".npy") == 0) {
        axmul_npy *a;
        axmul_status s = axmul_npy_load(path, &a);
        if (s != AXMUL_OK)
            return s;
        if (axmul_npy_count(a) != 256) {
            size_t n = axmul_npy_count(a);
            axmul_npy_free(a);
            return axmul__fail(AXMUL_ERR_SHAPE, "%s: %zu elements, expected 256 (one per operand)",
                               path, n);
        }
        s = axmul_npy_to_double(a, out, 256);
        axmul_npy_free(a);
        if (s != AXMUL_OK)
            return s;
        for (int i = 0; i < 256; i++)
            if (!isfinite(out[i]) || out[i] < 0)
                return axmul__fail(AXMUL_ERR_RANGE, "%s: element %d is %g (must be >= 0)", path, i,
                                   out[i]);
        return AXMUL_OK;
    }
    uint8_t *buf;
    size_t len;
    axmul_status s = axmul__read_file(path, (size_t)1 << 20, &buf, &len);
    if (s != AXMUL_OK)
        return s;
    char *text = realloc(buf, len + 1);
    if (!text) {
        free(buf);
        return axmul__fail(AXMUL_ERR_NOMEM, "%s: out of memory", path);
    }
    text[len] = '\0';
    int n = 0, line = 0;
    char *save = NULL;
    s = AXMUL_OK;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        char *hash = strchr(l, '#');
        if (hash)
            *hash = '\0';
        while (isspace((unsigned char)*l))
            l++;
        if (!*l)
            continue;
        char *end;
        errno = 0;
        double v = strtod(l, &end);
        while (isspace((unsigned char)*end))
            end++;
        if (errno || end == l || *end || !isfinite(v) || v < 0) {
            s = axmul__fail(AXMUL_ERR_FORMAT, "%s:%d: '%s' is not a non-negative count", path, line,
                            l);
            break;
        }
        if (n == 256) {
            s = axmul__fail(AXMUL_ERR_SHAPE, "%s:%d: more than 256 counts", path, line);
            break;
        }
        out[n++] = v;
    }
    if (s == AXMUL_OK && n != 256)
        s = axmul__fail(AXMUL_ERR_SHAPE, "%s: %d counts, expected 256 (one per operand value)",
                        path, n);
    free(text);
    return s;
}
