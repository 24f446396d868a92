/*
 * BN254 (alt_bn128) G1 arithmetic for Pedersen commitments, for offchain/curve.py.
 *
 * The curve is y^2 = x^3 + 3 over F_q, the group of prime order r (cofactor 1),
 * as in the EVM precompiles 0x06 (ecAdd) and 0x07 (ecMul). Every function
 * takes and returns points in the EVM encoding: 64 bytes each, x || y as
 * 32-byte big-endian integers, the point at infinity as 64 zero bytes.
 * Scalars are 32-byte big-endian and are reduced modulo r first.
 * Inputs must be valid points (g1_validate checks untrusted bytes).
 *
 * Inside, F_q elements are 4 little-endian 64-bit limbs in Montgomery form
 * (R = 2^256) and points are Jacobian (X, Y, Z) with x = X/Z^2, y = Y/Z^3 and
 * Z = 0 for infinity. Results are made affine in chunks with one field
 * inversion per chunk (Montgomery's trick).
 *
 * Scalar multiplication uses signed windows: k = sum_i d_i 2^(w i) with
 * d_i in [-(2^(w-1) - 1), 2^(w-1)], so a table of 2^(w-1) multiples covers
 * every digit (a negative digit negates the entry's y).
 *   - fixed base (G, H): w = 7, a table of d * 2^(7i) * B for 37 windows i and
 *     d = 1..64 (148 KiB per base), so v*G + r*H costs at most 74 mixed
 *     additions and no doubling;
 *   - variable base: w = 5, 16 Jacobian multiples per point, 255 doublings
 *     and 51 additions;
 *   - multi-scalar multiplication: Pippenger's bucket method with signed digits.
 * Side channels: commitments hide secrets, so the fixed-base path reads every
 * entry of a window and keeps the wanted one with masks (no secret-dependent
 * address) and negates by a masked select. That costs about a quarter of the
 * commitment rate against a direct lookup with w = 8 (build with
 * -DMPCC_G1_DIRECT_LOOKUP -DFB_W=8; benchmarks/curve.py prices both). It is
 * not constant time: zero digits (probability 2^-7 each) are skipped, the
 * addition formulas branch on exceptional cases, and the variable-base
 * operations and the MSM, meant for public data (verification), index by digits.
 * The pure-Python reference offchain/_g1ref.py is the specification;
 * tests/offchain/test_curve.py checks this kernel against it and py_ecc.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;
typedef struct { uint64_t l[4]; } fe; /* Montgomery form, canonical (< q). */
typedef struct { fe x, y, z; } jac;   /* Z == 0 is infinity. */
typedef struct { fe x, y; } aff;      /* (0, 0) stands for infinity where allowed. */

static const fe Q = {{0x3c208c16d87cfd47ULL, 0x97816a916871ca8dULL,
                      0xb85045b68181585dULL, 0x30644e72e131a029ULL}};
static const fe R2 = {{0xf32cfc5b538afa89ULL, 0xb5e71911d44501fbULL,
                       0x47ab1eff0a417ff6ULL, 0x06d89f71cab8351fULL}};
static const fe ONE = {{0xd35d438dc58f0d9dULL, 0x0a78eb28f5c70b3dULL,
                        0x666ea36f7879462cULL, 0x0e0a77c19a07df2fULL}};
static const fe B3 = {{0x7a17caa950ad28d7ULL, 0x1f6ac17ae15521b9ULL,
                       0x334bea4e696bd284ULL, 0x2a1f6744ce179d8eULL}}; /* 3 * R mod q */
static const uint64_t ORDER[4] = {0x43e1f593f0000001ULL, 0x2833e84879b97091ULL,
                                  0xb85045b68181585dULL, 0x30644e72e131a029ULL};
static const uint64_t QINV = 0x87d20782e4866389ULL; /* -q^-1 mod 2^64 */

#define CHUNK 256     /* points made affine per inversion */
#ifndef FB_W
#define FB_W 7        /* fixed-base window (8 is best with MPCC_G1_DIRECT_LOOKUP) */
#endif
#define FB_WINDOWS ((255 + FB_W - 1) / FB_W)
#define FB_ENTRIES (1 << (FB_W - 1))
#define VB_W 5        /* variable-base window */

/* ---- F_q ---------------------------------------------------------------- */

static inline int geq4(const uint64_t *a, const uint64_t *m) {
    for (int i = 3; i >= 0; i--) {
        if (a[i] != m[i]) return a[i] > m[i];
    }
    return 1;
}

static inline void sub4(uint64_t *a, const uint64_t *m) {
    uint64_t borrow = 0;
    for (int i = 0; i < 4; i++) {
        u128 d = (u128)a[i] - m[i] - borrow;
        a[i] = (uint64_t)d;
        borrow = (uint64_t)(d >> 64) & 1;
    }
}

static inline void fe_add(fe *r, const fe *a, const fe *b) {
    /* a + b < 2q < 2^255: no carry leaves the top limb. */
    u128 c = 0;
    for (int i = 0; i < 4; i++) {
        c += (u128)a->l[i] + b->l[i];
        r->l[i] = (uint64_t)c;
        c >>= 64;
    }
    if (geq4(r->l, Q.l)) sub4(r->l, Q.l);
}

static inline void fe_sub(fe *r, const fe *a, const fe *b) {
    uint64_t borrow = 0;
    for (int i = 0; i < 4; i++) {
        u128 d = (u128)a->l[i] - b->l[i] - borrow;
        r->l[i] = (uint64_t)d;
        borrow = (uint64_t)(d >> 64) & 1;
    }
    if (borrow) {
        u128 c = 0;
        for (int i = 0; i < 4; i++) {
            c += (u128)r->l[i] + Q.l[i];
            r->l[i] = (uint64_t)c;
            c >>= 64;
        }
    }
}

static inline int fe_is_zero(const fe *a) {
    return (a->l[0] | a->l[1] | a->l[2] | a->l[3]) == 0;
}

static inline void fe_neg(fe *r, const fe *a) {
    static const fe zero = {{0, 0, 0, 0}};
    fe_sub(r, &zero, a);
}

/* Montgomery product a*b/R (CIOS without the extra carry word, valid because
 * the top limb of q is below 2^63 - 1). Outputs may alias inputs. */
static inline void fe_mul(fe *r, const fe *x, const fe *y) {
    uint64_t t[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4; i++) {
        u128 a = (u128)x->l[0] * y->l[i] + t[0];
        uint64_t carry_a = (uint64_t)(a >> 64);
        uint64_t lo = (uint64_t)a;
        uint64_t m = lo * QINV;
        u128 c = (u128)m * Q.l[0] + lo;
        uint64_t carry_c = (uint64_t)(c >> 64);
        for (int j = 1; j < 4; j++) {
            a = (u128)x->l[j] * y->l[i] + t[j] + carry_a;
            carry_a = (uint64_t)(a >> 64);
            c = (u128)m * Q.l[j] + (uint64_t)a + carry_c;
            carry_c = (uint64_t)(c >> 64);
            t[j - 1] = (uint64_t)c;
        }
        t[3] = carry_a + carry_c;
    }
    if (geq4(t, Q.l)) sub4(t, Q.l);
    memcpy(r->l, t, sizeof t);
}

static inline void fe_sqr(fe *r, const fe *a) { fe_mul(r, a, a); }

/* a^(q-2) = 1/a by Fermat (a != 0); about 380 products, once per chunk. */
static void fe_inv(fe *r, const fe *a) {
    uint64_t e[4];
    memcpy(e, Q.l, sizeof e);
    e[0] -= 2; /* q's low limb is > 2 */
    fe acc = ONE;
    for (int bit = 253; bit >= 0; bit--) {
        fe_sqr(&acc, &acc);
        if ((e[bit / 64] >> (bit % 64)) & 1) fe_mul(&acc, &acc, a);
    }
    *r = acc;
}

static inline void load_be(uint64_t *t, const uint8_t *s) {
    for (int l = 0; l < 4; l++) {
        uint64_t v = 0;
        for (int k = 0; k < 8; k++) v = (v << 8) | s[8 * (3 - l) + k];
        t[l] = v;
    }
}

static inline void store_be(uint8_t *d, const uint64_t *t) {
    for (int l = 0; l < 4; l++) {
        uint64_t v = t[l];
        for (int k = 7; k >= 0; k--) {
            d[8 * (3 - l) + k] = (uint8_t)v;
            v >>= 8;
        }
    }
}

/* Parses a canonical element into Montgomery form; 0 if it is >= q. */
static inline int fe_from_be(fe *r, const uint8_t *s) {
    fe raw;
    load_be(raw.l, s);
    if (geq4(raw.l, Q.l)) {
        memset(r, 0, sizeof *r);
        return 0;
    }
    fe_mul(r, &raw, &R2);
    return 1;
}

static inline void fe_to_be(uint8_t *d, const fe *a) {
    static const fe one = {{1, 0, 0, 0}};
    fe t;
    fe_mul(&t, a, &one);
    store_be(d, t.l);
}

/* A scalar reduced modulo the group order r. */
static inline void load_scalar(uint64_t *k, const uint8_t *s) {
    load_be(k, s);
    while (geq4(k, ORDER)) sub4(k, ORDER);
}

/* ---- points ------------------------------------------------------------- */

static inline int jac_is_inf(const jac *p) { return fe_is_zero(&p->z); }

static inline void jac_set_inf(jac *p) { memset(p, 0, sizeof *p); }

static inline void jac_from_aff(jac *r, const aff *a) {
    r->x = a->x;
    r->y = a->y;
    r->z = ONE;
}

/* dbl-2009-l (a = 0): 2M + 5S. */
static void jac_dbl(jac *r, const jac *p) {
    fe a, b, c, d, e, f, t;
    if (jac_is_inf(p)) { *r = *p; return; }
    fe_sqr(&a, &p->x);
    fe_sqr(&b, &p->y);
    fe_sqr(&c, &b);
    fe_add(&t, &p->x, &b);
    fe_sqr(&t, &t);
    fe_sub(&t, &t, &a);
    fe_sub(&t, &t, &c);
    fe_add(&d, &t, &t);
    fe_add(&e, &a, &a);
    fe_add(&e, &e, &a);
    fe_sqr(&f, &e);
    fe_mul(&r->z, &p->y, &p->z);
    fe_add(&r->z, &r->z, &r->z);
    fe_sub(&r->x, &f, &d);
    fe_sub(&r->x, &r->x, &d);
    fe_sub(&t, &d, &r->x);
    fe_mul(&t, &e, &t);
    fe_add(&c, &c, &c);
    fe_add(&c, &c, &c);
    fe_add(&c, &c, &c);
    fe_sub(&r->y, &t, &c);
}

/* Finishes an addition from H = U2 - U1, rr = 2(S2 - S1), Z3 already set:
 * X3 = rr^2 - J - 2V, Y3 = rr(V - X3) - 2 S1 J with I = 4H^2, J = H I, V = U1 I. */
static inline void add_finish(jac *r, const fe *h, const fe *rr, const fe *u1, const fe *s1) {
    fe i, j, v, t;
    fe_add(&i, h, h);
    fe_sqr(&i, &i);
    fe_mul(&j, h, &i);
    fe_mul(&v, u1, &i);
    fe_sqr(&t, rr);
    fe_sub(&t, &t, &j);
    fe_sub(&t, &t, &v);
    fe_sub(&r->x, &t, &v);
    fe_sub(&t, &v, &r->x);
    fe_mul(&t, rr, &t);
    fe_mul(&j, s1, &j);
    fe_add(&j, &j, &j);
    fe_sub(&r->y, &t, &j);
}

/* r = p + q with q affine and not infinity (madd-2007-bl): 7M + 4S. */
static void jac_madd(jac *r, const jac *p, const aff *q) {
    fe z1z1, u2, s2, h, rr, u1, s1, z3;
    if (jac_is_inf(p)) { jac_from_aff(r, q); return; }
    fe_sqr(&z1z1, &p->z);
    fe_mul(&u2, &q->x, &z1z1);
    fe_mul(&s2, &q->y, &p->z);
    fe_mul(&s2, &s2, &z1z1);
    fe_sub(&h, &u2, &p->x);
    fe_sub(&rr, &s2, &p->y);
    if (fe_is_zero(&h)) {
        if (fe_is_zero(&rr)) jac_dbl(r, p); else jac_set_inf(r);
        return;
    }
    fe_add(&rr, &rr, &rr);
    fe_mul(&z3, &p->z, &h);
    fe_add(&z3, &z3, &z3);
    u1 = p->x;
    s1 = p->y;
    r->z = z3;
    add_finish(r, &h, &rr, &u1, &s1);
}

/* r = p + q, both Jacobian (add-2007-bl): 11M + 5S. */
static void jac_add(jac *r, const jac *p, const jac *q) {
    fe z1z1, z2z2, u1, u2, s1, s2, h, rr, z3;
    if (jac_is_inf(p)) { *r = *q; return; }
    if (jac_is_inf(q)) { *r = *p; return; }
    fe_sqr(&z1z1, &p->z);
    fe_sqr(&z2z2, &q->z);
    fe_mul(&u1, &p->x, &z2z2);
    fe_mul(&u2, &q->x, &z1z1);
    fe_mul(&s1, &p->y, &q->z);
    fe_mul(&s1, &s1, &z2z2);
    fe_mul(&s2, &q->y, &p->z);
    fe_mul(&s2, &s2, &z1z1);
    fe_sub(&h, &u2, &u1);
    fe_sub(&rr, &s2, &s1);
    if (fe_is_zero(&h)) {
        if (fe_is_zero(&rr)) jac_dbl(r, p); else jac_set_inf(r);
        return;
    }
    fe_add(&rr, &rr, &rr);
    fe_mul(&z3, &p->z, &q->z);
    fe_mul(&z3, &z3, &h);
    fe_add(&z3, &z3, &z3);
    r->z = z3;
    add_finish(r, &h, &rr, &u1, &s1);
}

/* Loads a valid EVM point; returns 0 for infinity (out is then (0, 0)). */
static inline int load_aff(aff *out, const uint8_t *s) {
    static const uint8_t zero[64] = {0};
    if (memcmp(s, zero, 64) == 0) {
        memset(out, 0, sizeof *out);
        return 0;
    }
    fe_from_be(&out->x, s);
    fe_from_be(&out->y, s + 32);
    return 1;
}

static inline void load_jac(jac *out, const uint8_t *s) {
    aff a;
    if (load_aff(&a, s)) jac_from_aff(out, &a); else jac_set_inf(out);
}

/* Affine forms of n <= CHUNK points with one inversion; infinity becomes (0, 0). */
static void normalize(aff *out, const jac *p, int64_t n) {
    fe prefix[CHUNK], run = ONE, inv, zi, zi2;
    for (int64_t i = 0; i < n; i++) {
        prefix[i] = run;
        if (!jac_is_inf(&p[i])) fe_mul(&run, &run, &p[i].z);
    }
    fe_inv(&inv, &run);
    for (int64_t i = n - 1; i >= 0; i--) {
        if (jac_is_inf(&p[i])) { memset(&out[i], 0, sizeof out[i]); continue; }
        fe_mul(&zi, &inv, &prefix[i]);
        fe_mul(&inv, &inv, &p[i].z);
        fe_sqr(&zi2, &zi);
        fe_mul(&out[i].x, &p[i].x, &zi2);
        fe_mul(&zi2, &zi2, &zi);
        fe_mul(&out[i].y, &p[i].y, &zi2);
    }
}

/* Writes n <= CHUNK points; the Montgomery form of 0 is 0, so infinity is 64 zero bytes. */
static void store_chunk(uint8_t *out, const jac *p, int64_t n) {
    aff a[CHUNK];
    normalize(a, p, n);
    for (int64_t i = 0; i < n; i++) {
        fe_to_be(out + 64 * i, &a[i].x);
        fe_to_be(out + 64 * i + 32, &a[i].y);
    }
}

/* Signed digits of k (< r < 2^254) in base 2^w, w <= 16: ceil(255/w) digits in
 * [-(2^(w-1) - 1), 2^(w-1)]; the last digit never carries because k < 2^254. */
static inline int64_t bits_at(const uint64_t *k, int pos, int w) {
    int limb = pos / 64, off = pos % 64;
    if (limb >= 4) return 0;
    uint64_t v = k[limb] >> off;
    if (off + w > 64 && limb < 3) v |= k[limb + 1] << (64 - off);
    return (int64_t)(v & ((1ULL << w) - 1));
}

static int recode(int32_t *d, const uint64_t *k, int w) {
    int nw = (255 + w - 1) / w, carry = 0;
    for (int i = 0; i < nw; i++) {
        int64_t b = bits_at(k, i * w, w) + carry;
        carry = b > (1 << (w - 1));
        d[i] = (int32_t)(carry ? b - (1 << w) : b);
    }
    return nw;
}

/* ---- exported ----------------------------------------------------------- */

/* 0 if all n points are on the curve with coordinates < q (or are 64 zero
 * bytes), else 1 + the index of the first invalid one. */
int64_t g1_validate(const uint8_t *pts, int64_t n) {
    static const uint8_t zero[64] = {0};
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *s = pts + 64 * i;
        if (memcmp(s, zero, 64) == 0) continue;
        fe x, y, lhs, rhs;
        if (!fe_from_be(&x, s) || !fe_from_be(&y, s + 32)) return i + 1;
        fe_sqr(&lhs, &y);
        fe_sqr(&rhs, &x);
        fe_mul(&rhs, &rhs, &x);
        fe_add(&rhs, &rhs, &B3);
        if (memcmp(&lhs, &rhs, sizeof lhs) != 0) return i + 1;
    }
    return 0;
}

/* out = a + sign*b elementwise, sign = +1 or -1. */
static void add_or_sub(uint8_t *out, const uint8_t *a, const uint8_t *b, int64_t n, int negate) {
    jac buf[CHUNK];
    for (int64_t base = 0; base < n; base += CHUNK) {
        int64_t m = n - base < CHUNK ? n - base : CHUNK;
        for (int64_t i = 0; i < m; i++) {
            const int64_t k = 64 * (base + i);
            aff q;
            load_jac(&buf[i], a + k);
            if (!load_aff(&q, b + k)) continue;
            if (negate) fe_neg(&q.y, &q.y);
            jac_madd(&buf[i], &buf[i], &q);
        }
        store_chunk(out + 64 * base, buf, m);
    }
}

void g1_add(uint8_t *out, const uint8_t *a, const uint8_t *b, int64_t n) {
    add_or_sub(out, a, b, n, 0);
}

void g1_sub(uint8_t *out, const uint8_t *a, const uint8_t *b, int64_t n) {
    add_or_sub(out, a, b, n, 1);
}

void g1_neg(uint8_t *out, const uint8_t *a, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        aff p;
        if (!load_aff(&p, a + 64 * i)) { memset(out + 64 * i, 0, 64); continue; }
        fe_neg(&p.y, &p.y);
        fe_to_be(out + 64 * i, &p.x);
        fe_to_be(out + 64 * i + 32, &p.y);
    }
}

/* r = k * p, p affine and not infinity, signed window VB_W. */
static void var_mul(jac *r, const aff *p, const uint64_t *k) {
    jac tab[1 << (VB_W - 1)];
    int32_t d[(255 + VB_W - 1) / VB_W];
    jac_from_aff(&tab[0], p);
    jac_dbl(&tab[1], &tab[0]);
    for (int j = 2; j < (1 << (VB_W - 1)); j++) jac_madd(&tab[j], &tab[j - 1], p);
    int nw = recode(d, k, VB_W);
    jac_set_inf(r);
    for (int i = nw - 1; i >= 0; i--) {
        for (int s = 0; s < VB_W; s++) jac_dbl(r, r);
        if (d[i] > 0) jac_add(r, r, &tab[d[i] - 1]);
        if (d[i] < 0) {
            jac t = tab[-d[i] - 1];
            fe_neg(&t.y, &t.y);
            jac_add(r, r, &t);
        }
    }
}

/* out_i = k_i * p_i where k_i is at scalars + stride*i (stride 0: one scalar for all). */
void g1_scale(uint8_t *out, const uint8_t *pts, const uint8_t *scalars, int64_t stride,
              int64_t n) {
    jac buf[CHUNK];
    for (int64_t base = 0; base < n; base += CHUNK) {
        int64_t m = n - base < CHUNK ? n - base : CHUNK;
        for (int64_t i = 0; i < m; i++) {
            aff p;
            uint64_t k[4];
            jac_set_inf(&buf[i]);
            if (!load_aff(&p, pts + 64 * (base + i))) continue;
            load_scalar(k, scalars + stride * (base + i));
            var_mul(&buf[i], &p, k);
        }
        store_chunk(out + 64 * base, buf, m);
    }
}

void g1_sum(uint8_t *out, const uint8_t *pts, int64_t n) {
    jac acc;
    jac_set_inf(&acc);
    for (int64_t i = 0; i < n; i++) {
        aff p;
        if (load_aff(&p, pts + 64 * i)) jac_madd(&acc, &acc, &p);
    }
    store_chunk(out, &acc, 1);
}

/* Pippenger window: minimises (255/c) * (n + 2^c) roughly. */
static int msm_window(int64_t n) {
    int best = 2;
    double best_cost = 1e300;
    for (int c = 2; c <= 16; c++) {
        double cost = (double)((255 + c - 1) / c) * ((double)n + (double)(1 << c));
        if (cost < best_cost) { best_cost = cost; best = c; }
    }
    return best;
}

/* out = sum_i k_i p_i (one point). Returns 0, or -1 if memory ran out. */
int64_t g1_msm(uint8_t *out, const uint8_t *pts, const uint8_t *scalars, int64_t n) {
    int c = msm_window(n), nw = (255 + c - 1) / c, half = 1 << (c - 1);
    aff *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    uint64_t *k = malloc((size_t)(n ? n : 1) * 4 * sizeof *k);
    uint8_t *carry = calloc((size_t)(n ? n : 1), 1);
    jac *bucket = malloc((size_t)half * sizeof *bucket);
    jac *window = malloc((size_t)nw * sizeof *window);
    int64_t status = 0;
    if (!p || !k || !carry || !bucket || !window) { status = -1; goto done; }
    for (int64_t i = 0; i < n; i++) {
        load_scalar(k + 4 * i, scalars + 32 * i);
        if (!load_aff(&p[i], pts + 64 * i)) memset(k + 4 * i, 0, 32);
    }
    /* Windows from the lowest, so each point's carry is known; combined below. */
    for (int w = 0; w < nw; w++) {
        for (int b = 0; b < half; b++) jac_set_inf(&bucket[b]);
        for (int64_t i = 0; i < n; i++) {
            int64_t d = bits_at(k + 4 * i, w * c, c) + carry[i];
            carry[i] = d > half;
            if (carry[i]) d -= (int64_t)1 << c;
            if (d > 0) jac_madd(&bucket[d - 1], &bucket[d - 1], &p[i]);
            if (d < 0) {
                aff t = p[i];
                fe_neg(&t.y, &t.y);
                jac_madd(&bucket[-d - 1], &bucket[-d - 1], &t);
            }
        }
        /* sum_b (b+1) bucket[b] by running sums from the top. */
        jac run, tot;
        jac_set_inf(&run);
        jac_set_inf(&tot);
        for (int b = half - 1; b >= 0; b--) {
            jac_add(&run, &run, &bucket[b]);
            jac_add(&tot, &tot, &run);
        }
        window[w] = tot;
    }
    jac acc;
    jac_set_inf(&acc);
    for (int w = nw - 1; w >= 0; w--) {
        for (int s = 0; s < c; s++) jac_dbl(&acc, &acc);
        jac_add(&acc, &acc, &window[w]);
    }
    store_chunk(out, &acc, 1);
done:
    free(p);
    free(k);
    free(carry);
    free(bucket);
    free(window);
    return status;
}

/* ---- fixed base --------------------------------------------------------- */

int64_t g1_table_bytes(void) { return (int64_t)(FB_WINDOWS * FB_ENTRIES * sizeof(aff)); }

/* table[i][d-1] = d * 2^(w i) * base (affine) for i < FB_WINDOWS, d = 1..FB_ENTRIES.
 * Returns 0, or 1 if base is infinity. */
int64_t g1_table_build(aff *table, const uint8_t *base) {
    aff b;
    jac row[FB_ENTRIES], step;
    if (!load_aff(&b, base)) return 1;
    for (int i = 0; i < FB_WINDOWS; i++) {
        aff *t = table + (int64_t)i * FB_ENTRIES;
        jac_from_aff(&row[0], &b);
        for (int d = 1; d < FB_ENTRIES; d++) jac_madd(&row[d], &row[d - 1], &b);
        normalize(t, row, FB_ENTRIES);
        /* The next window's base: 2 * (2^(w-1) * b) = 2^w * b. */
        jac_dbl(&step, &row[FB_ENTRIES - 1]);
        normalize(&b, &step, 1);
    }
    return 0;
}

#ifdef MPCC_G1_DIRECT_LOOKUP
/* The entry of digit d != 0, read at an address that depends on d. */
static inline void fb_entry(aff *r, const aff *t, int32_t d) {
    *r = t[(d > 0 ? d : -d) - 1];
    if (d < 0) fe_neg(&r->y, &r->y);
}
#else
/* The entry of digit d != 0: every entry of the window is read and the wanted
 * one kept with masks, and the sign is applied by a masked select, so the
 * addresses and branches do not depend on d. */
static inline void fb_entry(aff *r, const aff *t, int32_t d) {
    int32_t sign = d >> 31, idx = ((d ^ sign) - sign) - 1;
    uint64_t acc[8] = {0};
    for (int j = 0; j < FB_ENTRIES; j++) {
        uint64_t mask = -(uint64_t)(j == idx);
        const uint64_t *e = (const uint64_t *)&t[j];
        for (int l = 0; l < 8; l++) acc[l] |= e[l] & mask;
    }
    memcpy(r, acc, sizeof acc);
    fe neg;
    fe_neg(&neg, &r->y);
    uint64_t negate = -(uint64_t)(sign & 1);
    for (int l = 0; l < 4; l++) r->y.l[l] = (r->y.l[l] & ~negate) | (neg.l[l] & negate);
}
#endif

/* acc += k * B from the table of B; zero digits are skipped (a branch). */
static inline void fb_mul_add(jac *acc, const aff *table, const uint8_t *scalar) {
    uint64_t k[4];
    int32_t d[FB_WINDOWS];
    load_scalar(k, scalar);
    recode(d, k, FB_W);
    for (int i = 0; i < FB_WINDOWS; i++) {
        if (d[i] == 0) continue;
        aff e;
        fb_entry(&e, table + (int64_t)i * FB_ENTRIES, d[i]);
        jac_madd(acc, acc, &e);
    }
}

/* out_i = v_i * G + r_i * H with the tables of G and H from g1_table_build. */
void g1_commit(uint8_t *out, const aff *tg, const aff *th, const uint8_t *v, const uint8_t *r,
               int64_t n) {
    jac buf[CHUNK];
    for (int64_t base = 0; base < n; base += CHUNK) {
        int64_t m = n - base < CHUNK ? n - base : CHUNK;
        for (int64_t i = 0; i < m; i++) {
            jac_set_inf(&buf[i]);
            fb_mul_add(&buf[i], tg, v + 32 * (base + i));
            fb_mul_add(&buf[i], th, r + 32 * (base + i));
        }
        store_chunk(out + 64 * base, buf, m);
    }
}
