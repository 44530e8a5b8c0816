/* sgs-gen: random picks over candidates, for every stage that chooses records
 * or slots: exactly k of n (uniformly or by weight, without replacement) and
 * one of n by cumulative weight. They draw only from the stream handed in. */
#include "gen.h"

#include <stdlib.h>

struct keyed {
    double key;
    uint32_t idx;
};

static int keyed_before(const struct keyed *x, const struct keyed *y)
{
    return x->key > y->key || (x->key == y->key && x->idx < y->idx);
}

/* Moves the k first (in keyed_before order) of ks[0..n) to the front, any order.
 * Quickselect with a Lomuto partition: the pivot leaves the range every round, so
 * it always ends; the keys are random, so the middle element is a fair pivot. */
static void select_top(struct keyed *ks, size_t n, size_t k)
{
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        struct keyed t, pivot = ks[lo + (hi - lo) / 2];
        size_t store = lo;
        ks[lo + (hi - lo) / 2] = ks[hi - 1];
        ks[hi - 1] = pivot;
        for (size_t i = lo; i + 1 < hi; i++)
            if (keyed_before(&ks[i], &pivot)) {
                t = ks[i];
                ks[i] = ks[store];
                ks[store++] = t;
            }
        ks[hi - 1] = ks[store];
        ks[store] = pivot;
        /* [lo, store) before the pivot, (store, hi) after it */
        if (store + 1 == k || store == k)
            return;
        if (store > k)
            hi = store;
        else
            lo = store + 1;
    }
}

/* Picks exactly k of the n candidates: uniformly (w NULL, partial Fisher-Yates) or
 * weighted without replacement (Efraimidis-Spirakis keys, top k by quickselect).
 * Sorts the picks by record index so that later draws do not depend on the method. */
static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void gen_pick_k(rng *r, const uint32_t *cand, size_t n, const double *w, size_t k, uint32_t *out)
{
    if (k == 0)
        return;
    if (!w) {
        uint32_t *tmp = malloc(n * sizeof(uint32_t));
        memcpy(tmp, cand, n * sizeof(uint32_t));
        for (size_t i = 0; i < k; i++) {
            size_t j = i + rng_below(r, (uint32_t)(n - i));
            uint32_t t = tmp[i];
            tmp[i] = tmp[j];
            tmp[j] = t;
            out[i] = tmp[i];
        }
        free(tmp);
    } else {
        struct keyed *ks = malloc(n * sizeof(*ks));
        for (size_t i = 0; i < n; i++) {
            double u = rng_unit(r);
            if (u < 1e-300)
                u = 1e-300;
            ks[i].key = log(u) / w[i];
            ks[i].idx = cand[i];
        }
        if (k < n)
            select_top(ks, n, k);
        for (size_t i = 0; i < k; i++)
            out[i] = ks[i].idx;
        free(ks);
    }
    qsort(out, k, sizeof(uint32_t), cmp_u32);
}

size_t gen_pick_cumulative(rng *r, const double *cum, size_t n)
{
    double u = rng_unit(r) * cum[n - 1];
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cum[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}
