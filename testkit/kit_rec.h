/*
 * testkit — small helpers for tests and fuzzers of the recorder
 * (include/intc/record.h, docs/recording.md).  Header-only.
 *
 *   kit_sink        a growing buffer and its intc_record_fn;
 *   kit_rec_fix_crcs recompute the CRC of every record that still frames,
 *                   so a changed byte reaches the checks behind the
 *                   checksum.  The CRC here is its own bitwise CRC-32
 *                   (IEEE 802.3), independent of the library's table.
 */
#ifndef INTC_TESTKIT_KIT_REC_H
#define INTC_TESTKIT_KIT_REC_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct kit_sink {
    uint8_t *p;
    size_t n, cap;
} kit_sink;

/* intc_record_fn: append len bytes; -1 when memory runs out. */
static inline int kit_sink_write(void *ctx, const void *buf, size_t len)
{
    kit_sink *s = ctx;

    if (len > SIZE_MAX / 2 - s->n)
        return -1;
    if (s->n + len > s->cap) {
        size_t cap = 2 * (s->n + len);
        uint8_t *p = realloc(s->p, cap);
        if (!p)
            return -1;
        s->p = p;
        s->cap = cap;
    }
    memcpy(s->p + s->n, buf, len);
    s->n += len;
    return 0;
}

/* A little-endian u32 of the format. */
static inline uint32_t kit_rec_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint32_t kit_rec_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;

    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = c >> 1 ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

/* After the 16-byte preamble, each record: u32 length L, u8 type, L
   bytes, u32 CRC of the type and the payload (docs/recording.md). */
static inline void kit_rec_fix_crcs(uint8_t *b, size_t len)
{
    size_t pos = 16;

    while (pos <= len && len - pos >= 9) {
        uint32_t n = kit_rec_le32(b + pos), c;
        if (n > len - pos - 9)
            return;
        c = kit_rec_crc32(b + pos + 4, (size_t)n + 1);
        for (int i = 0; i < 4; i++)
            b[pos + 5 + n + i] = (uint8_t)(c >> (8 * i));
        pos += 9 + (size_t)n;
    }
}

#endif /* INTC_TESTKIT_KIT_REC_H */
