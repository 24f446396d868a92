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
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

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

/* x <- 2x + y for canonical x, y: 2x + y < 3r < 2^256, then r subtracted while the result is at
 * least r (twice at most), each subtraction computed in full and kept only without a borrow.
 * On x86-64 with the carry intrinsics (twice as fast here as the portable 128-bit version). */
static inline void dbl_add1(uint64_t *x, const uint64_t *y) {
    uint64_t t[4];
#if defined(__x86_64__)
    unsigned long long t0, t1, t2, t3, u0, u1, u2, u3;
    unsigned char c = _addcarry_u64(0, x[0] << 1, y[0], &t0);
    c = _addcarry_u64(c, (x[1] << 1) | (x[0] >> 63), y[1], &t1);
    c = _addcarry_u64(c, (x[2] << 1) | (x[1] >> 63), y[2], &t2);
    (void)_addcarry_u64(c, (x[3] << 1) | (x[2] >> 63), y[3], &t3);
    for (int round = 0; round < 2; round++) {
        unsigned char b = _subborrow_u64(0, t0, P[0], &u0);
        b = _subborrow_u64(b, t1, P[1], &u1);
        b = _subborrow_u64(b, t2, P[2], &u2);
        b = _subborrow_u64(b, t3, P[3], &u3);
        uint64_t keep = (uint64_t)0 - (uint64_t)b; /* all ones: t < r, keep t */
        t0 = (t0 & keep) | (u0 & ~keep);
        t1 = (t1 & keep) | (u1 & ~keep);
        t2 = (t2 & keep) | (u2 & ~keep);
        t3 = (t3 & keep) | (u3 & ~keep);
    }
    t[0] = t0, t[1] = t1, t[2] = t2, t[3] = t3;
#else
    uint64_t u[4];
    u128 c = 0;
    for (int i = 0; i < 4; i++) {
        c += (u128)((x[i] << 1) | (i ? x[i - 1] >> 63 : 0)) + y[i];
        t[i] = (uint64_t)c;
        c >>= 64;
    }
    for (int round = 0; round < 2; round++) {
        u128 borrow = 0;
        for (int i = 0; i < 4; i++) {
            u128 d = (u128)t[i] - P[i] - borrow;
            u[i] = (uint64_t)d;
            borrow = (d >> 64) & 1;
        }
        uint64_t keep = (uint64_t)0 - (uint64_t)borrow;
        for (int i = 0; i < 4; i++) t[i] = (t[i] & keep) | (u[i] & ~keep);
    }
#endif
    memcpy(x, t, sizeof t);
}

/* out[j] = sum_{i < width} 2^i a[i*n + j] for j < n: width rows of n elements read as the bits
 * (least significant row first) of n numbers, combined by doubling from the top row
 * (acc <- 2 acc + row), one row streamed per pass. out must not alias a. */
void f_binary(uint64_t *out, const uint64_t *a, int64_t n, int64_t width) {
    const int64_t chunk = 256; /* 8 KiB of out stays in L1 while every row passes over it */
    for (int64_t j0 = 0; j0 < n; j0 += chunk) {
        int64_t m = n - j0 < chunk ? n - j0 : chunk;
        memcpy(out + 4 * j0, a + 4 * (n * (width - 1) + j0), 32 * (size_t)m);
        for (int64_t i = width - 2; i >= 0; i--) {
            const uint64_t *row = a + 4 * (n * i + j0);
            for (int64_t j = 0; j < m; j++) dbl_add1(out + 4 * (j0 + j), row + 4 * j);
        }
    }
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

/* b^e in Montgomery form for b in Montgomery form and a 4-limb exponent e; one_m = R mod r. */
static void mont_pow(uint64_t *out, const uint64_t *b, const uint64_t *e, const uint64_t *one_m) {
    uint64_t acc[4];
    memcpy(acc, one_m, sizeof acc);
    for (int i = 255; i >= 0; i--) {
        mont(acc, acc, acc);
        if ((e[i / 64] >> (i % 64)) & 1) mont(acc, acc, b);
    }
    memcpy(out, acc, sizeof acc);
}

static inline int limbs_eq(const uint64_t *a, const uint64_t *b) {
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

/* 1 / v for each a[i] != 0, v its square root in [0, (r - 1) / 2] (Tonelli-Shanks, r - 1 = 2^S odd),
 * all inverted at once (Montgomery's trick: one exponentiation by r - 2). consts holds, as 4-limb
 * values: (odd - 1) / 2, r - 2, (r - 1) / 2, then g^(2^k) in Montgomery form for k = 0..S-1
 * (g = z^odd, z a non-residue). scratch holds n elements. Returns -1, or the index of the first
 * element that is 0 or has no square root (out is then undefined). Outputs must not alias a.
 * The reference is _fieldref.inv_sqrt. */
int64_t f_inv_sqrt(uint64_t *out, uint64_t *scratch, const uint64_t *a, const uint64_t *consts, int64_t s,
                   int64_t n) {
    const uint64_t *half_odd = consts, *r_minus_2 = consts + 4, *half_r = consts + 8, *gpow = consts + 12;
    static const uint64_t one[4] = {1, 0, 0, 0};
    uint64_t one_m[4], acc[4];
    mont(one_m, one, R2);
    memcpy(acc, one_m, sizeof acc);
    for (int64_t i = 0; i < n; i++) {
        const uint64_t *x_in = a + 4 * i;
        if (!(x_in[0] | x_in[1] | x_in[2] | x_in[3])) return i;
        uint64_t sm[4], w[4], x[4], t[4], u[4], v[4];
        mont(sm, x_in, R2);
        mont_pow(w, sm, half_odd, one_m);
        mont(x, sm, w); /* x = s^((odd + 1) / 2) */
        mont(t, x, w);  /* t = s^odd, in the subgroup of order 2^S; x^2 = s t */
        int64_t m = s;
        while (!limbs_eq(t, one_m)) {
            int64_t k = 0;
            memcpy(u, t, sizeof u);
            while (!limbs_eq(u, one_m)) {
                mont(u, u, u);
                if (++k == m) return i; /* t has order 2^m: s has no square root */
            }
            const uint64_t *b = gpow + 4 * (s - k - 1);
            mont(x, x, b);
            mont(t, t, b);
            mont(t, t, b);
            m = k;
        }
        mont(v, x, one); /* the root, out of Montgomery form */
        for (int j = 3; j >= 0; j--) { /* the one in [0, (r - 1) / 2] */
            if (v[j] != half_r[j]) {
                if (v[j] > half_r[j]) sub1(v, P, v);
                break;
            }
        }
        mont(out + 4 * i, v, R2);           /* v, in Montgomery form */
        memcpy(scratch + 4 * i, acc, sizeof acc); /* the product of the v before it */
        mont(acc, acc, out + 4 * i);
    }
    uint64_t inv[4], r[4];
    mont_pow(inv, acc, r_minus_2, one_m); /* 1 / (v_0 ... v_(n-1)) */
    for (int64_t i = n - 1; i >= 0; i--) {
        mont(r, scratch + 4 * i, inv);   /* 1 / v_i */
        mont(inv, inv, out + 4 * i);     /* 1 / (v_0 ... v_(i-1)) */
        mont(out + 4 * i, r, one);
    }
    return -1;
}
