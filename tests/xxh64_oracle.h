/*
 * XXH64 with seed 0, written from the xxHash specification independently
 * of libintc's snapshot.c: the oracle the snapshot test and the snapshot
 * fuzzer check images with (test_snapshot.c test_checksum_is_xxh64 holds
 * it to the published values).
 */
#ifndef INTC_TESTS_XXH64_ORACLE_H
#define INTC_TESTS_XXH64_ORACLE_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t xxo_rotl(uint64_t x, unsigned r)
{
    return x << r | x >> (64 - r);
}

static inline uint64_t xxo_rd(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline uint64_t xxh64_oracle(const uint8_t *p, size_t n)
{
    const uint64_t P1 = 0x9e3779b185ebca87ull, P2 = 0xc2b2ae3d27d4eb4full,
                   P3 = 0x165667b19e3779f9ull, P4 = 0x85ebca77c2b2ae63ull,
                   P5 = 0x27d4eb2f165667c5ull;
    size_t i = 0;
    uint64_t h;

    if (n >= 32) {
        uint64_t v[4] = {P1 + P2, P2, 0, 0 - P1};
        for (; i + 32 <= n; i += 32)
            for (unsigned k = 0; k < 4; k++)
                v[k] = xxo_rotl(v[k] + xxo_rd(p + i + 8 * k, 8) * P2, 31) *
                       P1;
        h = xxo_rotl(v[0], 1) + xxo_rotl(v[1], 7) + xxo_rotl(v[2], 12) +
            xxo_rotl(v[3], 18);
        for (unsigned k = 0; k < 4; k++)
            h = (h ^ xxo_rotl(v[k] * P2, 31) * P1) * P1 + P4;
    } else {
        h = P5;
    }
    h += n;
    for (; i + 8 <= n; i += 8)
        h = xxo_rotl(h ^ xxo_rotl(xxo_rd(p + i, 8) * P2, 31) * P1, 27) * P1 +
            P4;
    if (i + 4 <= n) {
        h = xxo_rotl(h ^ xxo_rd(p + i, 4) * P1, 23) * P2 + P3;
        i += 4;
    }
    for (; i < n; i++)
        h = xxo_rotl(h ^ p[i] * P5, 11) * P1;
    h = (h ^ h >> 33) * P2;
    h = (h ^ h >> 29) * P3;
    return h ^ h >> 32;
}

#endif /* INTC_TESTS_XXH64_ORACLE_H */
