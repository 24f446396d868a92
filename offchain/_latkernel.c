/*
 * Ring arithmetic of BGV for offchain/lattice: RNS polynomials modulo primes q < 2^62,
 * and the negacyclic NTT over Z_r (r the BN254 group order) that maps plaintext
 * coefficients to slots.
 *
 * RNS polynomials are L x N row-major uint64 arrays, row i holding residues modulo
 * q_i, always canonical (0 <= x < q_i) between calls. The tables (twiddles, Shoup
 * companions, the (L, 8) rows of constants) are built by offchain/lattice/tables.py,
 * whose docstring fixes the evaluation order and the column layout used here.
 * Elements of Z_r are 4 little-endian 64-bit limbs, canonical, as in _fieldkernel.c.
 *
 * Constant time: every reduction is a subtraction followed by a masked add-back,
 * and every comparison becomes a mask from a sign bit, so no branch and no memory
 * index depends on the data (loop bounds depend on N and L only). Plaintexts and
 * ciphertext noise may be secret; this keeps their timing flat.
 *
 * The pure-Python reference offchain/lattice/_reference.py is the specification;
 * tests/offchain/test_lattice.py checks this kernel against it.
 */
#include "_bn254r.h"

/* Column indices of the (L, 8) constant rows; see offchain/lattice/tables.py. */
enum { Q, NINV, NINV_S, ONE_S, BARRETT_LO, BARRETT_HI, TWO64, T_MOD };
enum { SW_QLINV, SW_QLINV_S, SW_TQ, SW_TQ_S, SW_QL };
#define ROW 8

/* x - m if x >= m, else x; needs m < 2^63 and x < m + 2^63 (so the sign bit
 * of x - m is exactly "x < m"). */
static inline uint64_t csub(uint64_t x, uint64_t m) {
    uint64_t y = x - m;
    return y + (m & (0 - (y >> 63)));
}

/* y * w mod q in [0, 2q) for any y < 2^64, w < q and ws = floor(w 2^64 / q) (Shoup). */
static inline uint64_t mul_shoup_lazy(uint64_t y, uint64_t w, uint64_t ws, uint64_t q) {
    uint64_t qh = (uint64_t)(((u128)y * ws) >> 64);
    return y * w - qh * q;
}

static inline uint64_t mul_shoup(uint64_t y, uint64_t w, uint64_t ws, uint64_t q) {
    return csub(mul_shoup_lazy(y, w, ws, q), q);
}

/* a * b mod q for a, b < q < 2^62 (Barrett with m = floor(2^128 / q)). The
 * quotient estimate floor(a b m / 2^128) is computed exactly from the four
 * partial products and undershoots the true quotient by at most 1. */
static inline uint64_t mul_barrett(uint64_t a, uint64_t b, const uint64_t *c) {
    u128 x = (u128)a * b;
    uint64_t x0 = (uint64_t)x, x1 = (uint64_t)(x >> 64);
    uint64_t m0 = c[BARRETT_LO], m1 = c[BARRETT_HI], q = c[Q];
    u128 p00 = (u128)x0 * m0, p01 = (u128)x0 * m1, p10 = (u128)x1 * m0;
    u128 mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10;
    uint64_t qhat = x1 * m1 + (uint64_t)(p01 >> 64) + (uint64_t)(p10 >> 64) + (uint64_t)(mid >> 64);
    return csub(x0 - qhat * q, q);
}

/* Forward negacyclic NTT in place (Longa-Naehrig Alg. 1, lazy butterflies after
 * Harvey 2014: values stay in [0, 4q), which fits 64 bits because q < 2^62). */
static void ntt_row(uint64_t *a, const uint64_t *w, const uint64_t *ws, const uint64_t *c, int64_t n) {
    uint64_t q = c[Q], q2 = 2 * q;
    for (int64_t m = 1, t = n; m < n; m *= 2) {
        t /= 2;
        for (int64_t i = 0; i < m; i++) {
            uint64_t s = w[m + i], ss = ws[m + i];
            uint64_t *x = a + 2 * i * t, *y = x + t;
            for (int64_t j = 0; j < t; j++) {
                uint64_t u = csub(x[j], q2);
                uint64_t v = mul_shoup_lazy(y[j], s, ss, q);
                x[j] = u + v;
                y[j] = u - v + q2;
            }
        }
    }
    for (int64_t j = 0; j < n; j++) a[j] = csub(csub(a[j], q2), q);
}

/* Inverse negacyclic NTT in place (Longa-Naehrig Alg. 2, Gentleman-Sande, lazy:
 * values stay in [0, 2q) between stages), then multiplied by n^-1. */
static void intt_row(uint64_t *a, const uint64_t *w, const uint64_t *ws, const uint64_t *c, int64_t n) {
    uint64_t q = c[Q], q2 = 2 * q;
    for (int64_t m = n, t = 1; m > 1; m /= 2, t *= 2) {
        int64_t h = m / 2;
        for (int64_t i = 0; i < h; i++) {
            uint64_t s = w[h + i], ss = ws[h + i];
            uint64_t *x = a + 2 * i * t, *y = x + t;
            for (int64_t j = 0; j < t; j++) {
                uint64_t u = x[j], v = y[j];
                x[j] = csub(u + v, q2);
                y[j] = mul_shoup_lazy(u - v + q2, s, ss, q);
            }
        }
    }
    for (int64_t j = 0; j < n; j++) a[j] = mul_shoup(a[j], c[NINV], c[NINV_S], q);
}

void lat_ntt(uint64_t *a, const uint64_t *w, const uint64_t *ws, const uint64_t *c, int64_t L, int64_t n) {
    for (int64_t i = 0; i < L; i++) ntt_row(a + i * n, w + i * n, ws + i * n, c + ROW * i, n);
}

void lat_intt(uint64_t *a, const uint64_t *w, const uint64_t *ws, const uint64_t *c, int64_t L, int64_t n) {
    for (int64_t i = 0; i < L; i++) intt_row(a + i * n, w + i * n, ws + i * n, c + ROW * i, n);
}

void lat_add(uint64_t *out, const uint64_t *a, const uint64_t *b, const uint64_t *c, int64_t L, int64_t n) {
    for (int64_t i = 0; i < L; i++) {
        uint64_t q = c[ROW * i + Q];
        for (int64_t j = i * n; j < (i + 1) * n; j++) out[j] = csub(a[j] + b[j], q);
    }
}

void lat_sub(uint64_t *out, const uint64_t *a, const uint64_t *b, const uint64_t *c, int64_t L, int64_t n) {
    for (int64_t i = 0; i < L; i++) {
        uint64_t q = c[ROW * i + Q];
        for (int64_t j = i * n; j < (i + 1) * n; j++) out[j] = csub(a[j] - b[j] + q, q);
    }
}

void lat_neg(uint64_t *out, const uint64_t *a, const uint64_t *c, int64_t L, int64_t n) {
    for (int64_t i = 0; i < L; i++) {
        uint64_t q = c[ROW * i + Q];
        for (int64_t j = i * n; j < (i + 1) * n; j++) out[j] = csub(q - a[j], q);
    }
}

void lat_mul(uint64_t *out, const uint64_t *a, const uint64_t *b, const uint64_t *c, int64_t L, int64_t n) {
    for (int64_t i = 0; i < L; i++) {
        const uint64_t *ci = c + ROW * i;
        for (int64_t j = i * n; j < (i + 1) * n; j++) out[j] = mul_barrett(a[j], b[j], ci);
    }
}

/* Row i times the constant k[i] < q_i, whose Shoup companion is ks[i]. */
void lat_mul_const(uint64_t *out, const uint64_t *a, const uint64_t *k, const uint64_t *ks, const uint64_t *c,
                   int64_t L, int64_t n) {
    for (int64_t i = 0; i < L; i++) {
        uint64_t q = c[ROW * i + Q];
        for (int64_t j = i * n; j < (i + 1) * n; j++) out[j] = mul_shoup(a[j], k[i], ks[i], q);
    }
}

/* Signed 64-bit coefficients to residues: x mod q from the unsigned bit pattern,
 * minus 2^64 mod q when the sign bit is set. */
void lat_from_i64(uint64_t *out, const int64_t *v, const uint64_t *c, int64_t L, int64_t n) {
    for (int64_t i = 0; i < L; i++) {
        const uint64_t *ci = c + ROW * i;
        uint64_t q = ci[Q];
        for (int64_t j = 0; j < n; j++) {
            uint64_t x = (uint64_t)v[j];
            uint64_t r = mul_shoup(x, 1, ci[ONE_S], q);
            uint64_t sign = 0 - (x >> 63);
            out[i * n + j] = csub(r + q - (ci[TWO64] & sign), q);
        }
    }
}

/* Elements of Z_r (4 limbs, canonical) lifted to (-r/2, r/2] and reduced mod each q_i.
 * lift row i holds 2^(64k) mod q_i and its Shoup companion for k = 0..3. */
void lat_from_field(uint64_t *out, const uint64_t *x, const uint64_t *c, const uint64_t *lift, int64_t L,
                    int64_t n) {
    /* (r + 1) / 2: x >= this exactly when x > r/2, i.e. when the lift is x - r. */
    static const uint64_t HALF[4] = {0xa1f0fac9f8000001ULL, 0x9419f4243cdcb848ULL,
                                     0xdc2822db40c0ac2eULL, 0x183227397098d014ULL};
    for (int64_t j = 0; j < n; j++) {
        const uint64_t *e = x + 4 * j;
        uint64_t borrow = 0;
        for (int k = 0; k < 4; k++) {
            u128 d = (u128)e[k] - HALF[k] - borrow;
            borrow = (uint64_t)(d >> 64) & 1;
        }
        uint64_t high = borrow - 1; /* all ones when x >= (r+1)/2 */
        for (int64_t i = 0; i < L; i++) {
            const uint64_t *ci = c + ROW * i, *li = lift + ROW * i;
            uint64_t q = ci[Q], s = 0;
            for (int k = 0; k < 4; k++) s += mul_shoup(e[k], li[2 * k], li[2 * k + 1], q);
            s = csub(csub(s, 2 * q), q); /* s < 4q before */
            out[i * n + j] = csub(s + q - (ci[T_MOD] & high), q);
        }
    }
}

/* BGV modulus switching (offchain/lattice/ring.py documents the rule): drops prime
 * L-1 from an L-row coefficient-form polynomial, writing L-1 rows. For each
 * coefficient, v = [t^-1 c_L]_{q_L} centred, and out_i = (c_i - t v) q_L^-1 mod q_i,
 * computed as c_i * q_L^-1 - v * (t q_L^-1) with both constants precomputed. */
void lat_mod_switch(uint64_t *out, const uint64_t *a, const uint64_t *c, const uint64_t *sw, int64_t L,
                    int64_t n) {
    const uint64_t *last = a + (L - 1) * n, *cl = c + ROW * (L - 1), *swl = sw + ROW * (L - 1);
    uint64_t ql = cl[Q], halfl = (ql - 1) / 2;
    for (int64_t i = 0; i < L - 1; i++) {
        const uint64_t *ci = c + ROW * i, *si = sw + ROW * i;
        uint64_t q = ci[Q];
        for (int64_t j = 0; j < n; j++) {
            uint64_t v = mul_shoup(last[j], swl[SW_QLINV], swl[SW_QLINV_S], ql);
            uint64_t negative = 0 - ((halfl - v) >> 63); /* all ones when v > (q_L - 1) / 2 */
            uint64_t vi = mul_shoup(v, 1, ci[ONE_S], q);
            vi = csub(vi + q - (si[SW_QL] & negative), q); /* v - q_L mod q_i when centred down */
            uint64_t x = mul_shoup(a[i * n + j], si[SW_QLINV], si[SW_QLINV_S], q);
            uint64_t y = mul_shoup(vi, si[SW_TQ], si[SW_TQ_S], q);
            out[i * n + j] = csub(x + q - y, q);
        }
    }
}

/* ---- Z_r, 4 limbs: constant-time, lazily reduced variants of _fieldkernel.c's helpers. ----
 * r < 2^254, so values up to 4r still fit 256 bits: the transforms keep them in
 * [0, 4r) between butterflies (Harvey's lazy reduction again) and reduce at the end. */

static const uint64_t *const RP = R_MODULUS;
static const uint64_t RP2[4] = {0x87c3eb27e0000002ULL, 0x5067d090f372e122ULL,
                                0x70a08b6d0302b0baULL, 0x60c89ce5c2634053ULL};

/* t - m if t >= m else t, chosen by mask (m is r or 2r). */
static inline void r_csub(uint64_t *t, const uint64_t *m) {
    uint64_t d[4], borrow = 0;
    for (int i = 0; i < 4; i++) {
        u128 x = (u128)t[i] - m[i] - borrow;
        d[i] = (uint64_t)x;
        borrow = (uint64_t)(x >> 64) & 1;
    }
    uint64_t keep = 0 - borrow; /* all ones when t < m */
    for (int i = 0; i < 4; i++) t[i] = (t[i] & keep) | (d[i] & ~keep);
}

/* out = a + b, for a + b < 2^256. */
static inline void r_add(uint64_t *out, const uint64_t *a, const uint64_t *b) {
    u128 carry = 0;
    for (int i = 0; i < 4; i++) {
        carry += (u128)a[i] + b[i];
        out[i] = (uint64_t)carry;
        carry >>= 64;
    }
}

/* out = a + 2r - b, for b <= a + 2r < 2^256: a difference that stays non-negative. */
static inline void r_sub2(uint64_t *out, const uint64_t *a, const uint64_t *b) {
    u128 carry = 0;
    uint64_t borrow = 0, t[4];
    for (int i = 0; i < 4; i++) {
        carry += (u128)a[i] + RP2[i];
        t[i] = (uint64_t)carry;
        carry >>= 64;
    }
    for (int i = 0; i < 4; i++) {
        u128 x = (u128)t[i] - b[i] - borrow;
        out[i] = (uint64_t)x;
        borrow = (uint64_t)(x >> 64) & 1;
    }
}

/* Forward negacyclic NTT over Z_r in place; w holds the twiddles times 2^256 mod r,
 * so one Montgomery product by a twiddle is the plain product. Canonical input
 * and output; values in [0, 4r) in between. */
void r_ntt(uint64_t *a, const uint64_t *w, int64_t n) {
    uint64_t v[4];
    for (int64_t m = 1, t = n; m < n; m *= 2) {
        t /= 2;
        for (int64_t i = 0; i < m; i++) {
            const uint64_t *s = w + 4 * (m + i);
            for (int64_t j = 2 * i * t; j < 2 * i * t + t; j++) {
                uint64_t *x = a + 4 * j, *y = a + 4 * (j + t);
                r_csub(x, RP2);    /* [0, 2r) */
                r_mont_lazy(v, y, s);   /* [0, 2r) */
                r_sub2(y, x, v);   /* (0, 4r) */
                r_add(x, x, v);    /* [0, 4r) */
            }
        }
    }
    for (int64_t j = 0; j < n; j++) {
        r_csub(a + 4 * j, RP2);
        r_csub(a + 4 * j, RP);
    }
}

/* Inverse negacyclic NTT over Z_r in place, then times n^-1 (ninv is n^-1 2^256 mod r).
 * Canonical input and output; values in [0, 2r) in between. */
void r_intt(uint64_t *a, const uint64_t *w, const uint64_t *ninv, int64_t n) {
    uint64_t d[4];
    for (int64_t m = n, t = 1; m > 1; m /= 2, t *= 2) {
        int64_t h = m / 2;
        for (int64_t i = 0; i < h; i++) {
            const uint64_t *s = w + 4 * (h + i);
            for (int64_t j = 2 * i * t; j < 2 * i * t + t; j++) {
                uint64_t *x = a + 4 * j, *y = a + 4 * (j + t);
                r_sub2(d, x, y);   /* (0, 4r) */
                r_add(x, x, y);    /* [0, 4r) */
                r_csub(x, RP2);    /* [0, 2r) */
                r_mont_lazy(y, d, s);   /* [0, 2r) */
            }
        }
    }
    for (int64_t j = 0; j < n; j++) {
        r_mont_lazy(a + 4 * j, a + 4 * j, ninv);
        r_csub(a + 4 * j, RP);
    }
}

/* Decryption's last step: each coefficient, given by its residues a[i n + j] modulo the L primes,
 * as its centred representative x in (-Q/2, Q/2] reduced modulo r (4 limbs, canonical).
 * With Q_i = Q / q_i and y_i = a_i Q_i^-1 mod q_i, S = sum_i y_i Q_i is below L Q and congruent
 * to x modulo Q, so x = S - k Q for k = #{m < L : S > m Q + (Q - 1)/2} (Q is odd), and
 *     x mod r = sum_i y_i (Q_i mod r) - k (Q mod r)   (mod r).
 * S is summed exactly on L limbs only to count k, by borrow masks; the sum modulo r takes one
 * Montgomery product per prime. k is then picked from kq_r by masks, so neither a branch nor
 * an index depends on the coefficient. offchain/lattice/tables.py (CrtTables) lays out crt,
 * qhat, half, qhat_r and kq_r. */
void lat_to_field(uint64_t *out, const uint64_t *a, const uint64_t *c, const uint64_t *crt, const uint64_t *qhat,
                  const uint64_t *half, const uint64_t *qhat_r, const uint64_t *kq_r, int64_t L, int64_t n) {
    uint64_t s[L];
    for (int64_t j = 0; j < n; j++) {
        uint64_t acc[4] = {0, 0, 0, 0}, y[4] = {0, 0, 0, 0}, term[4], sel[4] = {0, 0, 0, 0}, k = 0;
        memset(s, 0, sizeof(s));
        for (int64_t i = 0; i < L; i++) {
            uint64_t q = c[ROW * i + Q];
            y[0] = mul_shoup(a[i * n + j], crt[2 * i], crt[2 * i + 1], q);
            const uint64_t *m = qhat + i * L;
            u128 carry = 0;
            for (int64_t l = 0; l < L; l++) {
                carry += (u128)y[0] * m[l] + s[l];
                s[l] = (uint64_t)carry;
                carry >>= 64;
            }
            r_mont_lazy(term, y, qhat_r + 4 * i); /* [0, 2r) */
            r_add(acc, acc, term);           /* [0, 4r) */
            r_csub(acc, RP2);                /* [0, 2r) */
        }
        for (int64_t m = 0; m < L; m++) {
            const uint64_t *h = half + m * L;
            uint64_t borrow = 0;
            for (int64_t l = 0; l < L; l++) {
                u128 d = (u128)h[l] - s[l] - borrow;
                borrow = (uint64_t)(d >> 64) & 1;
            }
            k += borrow; /* h - S borrows exactly when S > h */
        }
        for (int64_t m = 0; m <= L; m++) {
            uint64_t x = (uint64_t)m ^ k;
            uint64_t equal = ((x | (0 - x)) >> 63) - 1; /* all ones when m == k */
            for (int l = 0; l < 4; l++) sel[l] |= kq_r[4 * m + l] & equal;
        }
        r_sub2(acc, acc, sel); /* (0, 4r) */
        r_csub(acc, RP2);
        r_csub(acc, RP);
        memcpy(out + 4 * j, acc, 4 * sizeof(uint64_t));
    }
}
