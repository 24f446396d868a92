/*
 * Vector arithmetic modulo the BN254 group order r (254 bits), for offchain/field.py.
 *
 * Elements are 4 little-endian 64-bit limbs, always canonical (0 <= x < r).
 * Products use Montgomery multiplication (CIOS, R = 2^256): a*b = mont(mont(a, b), R^2).
 * A multiplication by a public scalar s takes s already in Montgomery form
 * (s*R mod r, prepared by the caller) and costs one mont() per element.
 * Every function works on whole vectors of n elements; outputs may alias inputs.
 * The pure-Python reference in offchain/_fieldref.py is the specification;
 * tests/offchain/test_field.py checks this kernel against it.
 */
#include "_bn254r.h"

static const uint64_t *const P = R_MODULUS;
static const uint64_t R2[4] = {0x1bb8e645ae216da7ULL, 0x53fe3ab1e35c59e3ULL,
                               0x8c49833d53bb8085ULL, 0x0216d0b17f4e44a5ULL};

static inline int geq_p(const uint64_t *t) {
    for (int i = 3; i >= 0; i--) {
        if (t[i] != P[i]) return t[i] > P[i];
    }
    return 1;
}

static inline void sub_p(uint64_t *t) {
    u128 borrow = 0;
    for (int i = 0; i < 4; i++) {
        u128 d = (u128)t[i] - P[i] - borrow;
        t[i] = (uint64_t)d;
        borrow = (d >> 64) & 1;
    }
}

static inline void add1(uint64_t *r, const uint64_t *a, const uint64_t *b) {
    /* a + b < 2r < 2^255, so no carry leaves the top limb. */
    u128 c = 0;
    uint64_t t[4];
    for (int i = 0; i < 4; i++) {
        c += (u128)a[i] + b[i];
        t[i] = (uint64_t)c;
        c >>= 64;
    }
    if (geq_p(t)) sub_p(t);
    memcpy(r, t, sizeof t);
}

static inline void sub1(uint64_t *r, const uint64_t *a, const uint64_t *b) {
    u128 borrow = 0;
    uint64_t t[4];
    for (int i = 0; i < 4; i++) {
        u128 d = (u128)a[i] - b[i] - borrow;
        t[i] = (uint64_t)d;
        borrow = (d >> 64) & 1;
    }
    if (borrow) {
        u128 c = 0;
        for (int i = 0; i < 4; i++) {
            c += (u128)t[i] + P[i];
            t[i] = (uint64_t)c;
            c >>= 64;
        }
    }
    memcpy(r, t, sizeof t);
}

static inline void mont(uint64_t *r, const uint64_t *a, const uint64_t *b) {
    uint64_t t[4];
    r_mont_lazy(t, a, b); /* With a, b < r the result is below 2r: one subtraction makes it canonical. */
    if (geq_p(t)) sub_p(t);
    memcpy(r, t, 4 * sizeof(uint64_t));
}

static inline void mul1(uint64_t *r, const uint64_t *a, const uint64_t *b) {
    uint64_t t[4];
    mont(t, a, b);
    mont(r, t, R2);
}

void f_add(uint64_t *out, const uint64_t *a, const uint64_t *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) add1(out + 4 * i, a + 4 * i, b + 4 * i);
}

void f_sub(uint64_t *out, const uint64_t *a, const uint64_t *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) sub1(out + 4 * i, a + 4 * i, b + 4 * i);
}

void f_add_scalar(uint64_t *out, const uint64_t *a, const uint64_t *s, int64_t n) {
    for (int64_t i = 0; i < n; i++) add1(out + 4 * i, a + 4 * i, s);
}

void f_mul(uint64_t *out, const uint64_t *a, const uint64_t *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) mul1(out + 4 * i, a + 4 * i, b + 4 * i);
}

/* out = a * s where sm = s*R mod r (Montgomery form of the scalar). */
void f_mul_scalar(uint64_t *out, const uint64_t *a, const uint64_t *sm, int64_t n) {
    for (int64_t i = 0; i < n; i++) mont(out + 4 * i, a + 4 * i, sm);
}

/* out = c + a*b elementwise (the shape of every Beaver and MAC update). */
void f_mul_add(uint64_t *out, const uint64_t *c, const uint64_t *a, const uint64_t *b,
               int64_t n) {
    uint64_t t[4];
    for (int64_t i = 0; i < n; i++) {
        mul1(t, a + 4 * i, b + 4 * i);
        add1(out + 4 * i, c + 4 * i, t);
    }
}

/* out[0..3] = sum_i a_i * b_i. Accumulates a_i*b_i/R and fixes the factor once. */
void f_dot(uint64_t *out, const uint64_t *a, const uint64_t *b, int64_t n) {
    uint64_t acc[4] = {0, 0, 0, 0}, t[4];
    for (int64_t i = 0; i < n; i++) {
        mont(t, a + 4 * i, b + 4 * i);
        add1(acc, acc, t);
    }
    mont(out, acc, R2);
}

void f_sum(uint64_t *out, const uint64_t *a, int64_t n) {
    uint64_t acc[4] = {0, 0, 0, 0};
    for (int64_t i = 0; i < n; i++) add1(acc, acc, a + 4 * i);
    memcpy(out, acc, sizeof acc);
}

/* Horner evaluation continued from acc: acc <- acc*t + a_i for i = 0..n-1,
 * with tm = t*R mod r. So acc = acc_in*t^n + sum_i a_i * t^(n-1-i). */
void f_horner(uint64_t *acc, const uint64_t *a, const uint64_t *tm, int64_t n) {
    uint64_t x[4], t[4];
    memcpy(x, acc, sizeof x);
    for (int64_t i = 0; i < n; i++) {
        mont(t, x, tm);
        add1(x, t, a + 4 * i);
    }
    memcpy(acc, x, sizeof x);
}

/* The Beaver recombination for one party, in one pass (see offchain/engine/arith.py):
 *   zs = cs + e*as + d*bs (+ d*e if first)      zm = cm + e*am + d*bm + alpha_i*d*e
 * with alpham = alpha_i*R mod r. Converting d and e to Montgomery form once
 * saves three of the eleven products of the plain formula. */
void f_beaver(uint64_t *zs, uint64_t *zm, const uint64_t *cs, const uint64_t *cm,
              const uint64_t *as, const uint64_t *am, const uint64_t *bs, const uint64_t *bm,
              const uint64_t *d, const uint64_t *e, const uint64_t *alpham, int64_t first,
              int64_t n) {
    uint64_t dm[4], em[4], t[4], de[4], s[4], m[4];
    for (int64_t i = 0; i < n; i++) {
        int64_t k = 4 * i;
        mont(dm, d + k, R2);
        mont(em, e + k, R2);
        mont(t, as + k, em);
        add1(s, cs + k, t);
        mont(t, bs + k, dm);
        add1(s, s, t);
        mont(t, am + k, em);
        add1(m, cm + k, t);
        mont(t, bm + k, dm);
        add1(m, m, t);
        mont(de, d + k, em);
        if (first) add1(s, s, de);
        mont(t, de, alpham);
        add1(m, m, t);
        memcpy(zs + k, s, sizeof s);
        memcpy(zm + k, m, sizeof m);
    }
}

/* Parses n 32-byte big-endian elements; returns 1 + the index of the first
 * element >= r (the output is then incomplete), or 0 if all are canonical. */
int64_t f_from_be(uint64_t *out, const uint8_t *in, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *s = in + 32 * i;
        uint64_t *t = out + 4 * i;
        for (int l = 0; l < 4; l++) {
            uint64_t v = 0;
            for (int k = 0; k < 8; k++) v = (v << 8) | s[8 * (3 - l) + k];
            t[l] = v;
        }
        if (geq_p(t)) return i + 1;
    }
    return 0;
}

void f_to_be(uint8_t *out, const uint64_t *a, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        uint8_t *d = out + 32 * i;
        const uint64_t *t = a + 4 * i;
        for (int l = 0; l < 4; l++) {
            uint64_t v = t[l];
            for (int k = 7; k >= 0; k--) {
                d[8 * (3 - l) + k] = (uint8_t)v;
                v >>= 8;
            }
        }
    }
}

/* Rejection sampling: reads m candidates of 32 little-endian random bytes,
 * keeps the low 254 bits, accepts those below r; writes at most n and
 * returns how many were written. */
int64_t f_sample(uint64_t *out, int64_t n, const uint8_t *buf, int64_t m) {
    int64_t k = 0;
    for (int64_t i = 0; i < m && k < n; i++) {
        uint64_t t[4];
        memcpy(t, buf + 32 * i, 32);
        t[3] &= 0x3fffffffffffffffULL;
        if (!geq_p(t)) {
            memcpy(out + 4 * k, t, 32);
            k++;
        }
    }
    return k;
}
