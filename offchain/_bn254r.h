/*
 * The BN254 group order r and the Montgomery product modulo it (CIOS, R = 2^256), shared by
 * the C kernels that include this file: offchain/_fieldkernel.c (canonical field elements)
 * and offchain/_latkernel.c (the slot NTT, lazily reduced). Elements are 4 little-endian
 * 64-bit limbs.
 */
#ifndef MPCC_BN254R_H
#define MPCC_BN254R_H

#include <stdint.h>
#include <string.h>

typedef unsigned __int128 u128;

static const uint64_t R_MODULUS[4] = {0x43e1f593f0000001ULL, 0x2833e84879b97091ULL,
                                      0xb85045b68181585dULL, 0x30644e72e131a029ULL};
static const uint64_t R_MINV = 0xc2e1f593efffffffULL; /* -r^-1 mod 2^64 */

/* a b 2^-256 mod r, not reduced: in [0, 2r) for a < 4r and b < r, since then
 * a b < 4 r^2 < r 2^256 and (a b + m r) / 2^256 < 2r < 2^256 (so the fifth limb is 0). */
static inline void r_mont_lazy(uint64_t *out, const uint64_t *a, const uint64_t *b) {
    uint64_t t[6] = {0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 4; i++) {
        u128 c = 0;
        for (int j = 0; j < 4; j++) {
            c += (u128)a[j] * b[i] + t[j];
            t[j] = (uint64_t)c;
            c >>= 64;
        }
        c += t[4];
        t[4] = (uint64_t)c;
        t[5] = (uint64_t)(c >> 64);
        uint64_t m = t[0] * R_MINV;
        c = ((u128)m * R_MODULUS[0] + t[0]) >> 64;
        for (int j = 1; j < 4; j++) {
            c += (u128)m * R_MODULUS[j] + t[j];
            t[j - 1] = (uint64_t)c;
            c >>= 64;
        }
        c += t[4];
        t[3] = (uint64_t)c;
        t[4] = t[5] + (uint64_t)(c >> 64);
    }
    memcpy(out, t, 4 * sizeof(uint64_t));
}

#endif
