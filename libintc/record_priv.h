/*
 * libintc — the recorder's hooks (record.c) and the recorded operations.
 *
 * m->rec is NULL, or points at a struct intc__rec: the recorder
 * (INTC__REC_RECORD) or the replayer driving this machine
 * (INTC__REC_REPLAY).  The same hooks serve both: recording, they write
 * what happened; replaying, they check it against the recording and
 * serve the host's values from it.
 */
#ifndef INTC_RECORD_PRIV_H
#define INTC_RECORD_PRIV_H

#include "intc/intc.h"

enum intc__rec_mode { INTC__REC_RECORD = 1, INTC__REC_REPLAY = 2 };

struct intc__rec {
    unsigned mode; /* enum intc__rec_mode */
};

/* Recorded operations: the op byte of a call record (record.h's
   INTC_RECORD_OPS, docs/recording.md lists each with its obj, a0..a2,
   ret and out). */
#define INTC__OP_MAP(X) INTC_RECORD_OPS(X)

enum intc__rec_op {
#define INTC__OP_ENUM_(name, val, str) INTC__OP_##name = (val),
    INTC__OP_MAP(INTC__OP_ENUM_)
#undef INTC__OP_ENUM_
    INTC__OP_COUNT_
};

/* ---- the format (docs/recording.md) ----
 * A 16-byte preamble (magic, format version, writer's library version),
 * then records: u32 payload length, u8 type, the payload, u32 CRC-32
 * (IEEE 802.3, as zlib's crc32()) of the type byte and the payload. */
#define INTC__REC_MAGIC "INTCRECD"
#define INTC__REC_PREAMBLE 16u
#define INTC__REC_FRAME 9u              /* length, type, CRC */
#define INTC__REC_MAX_PAYLOAD 0x10000000u /* 256 MiB: larger is refused */

enum intc__rec_type {
    INTC__RT_CONFIG = 1,
    INTC__RT_DEVICE = 2,
    INTC__RT_IMAGE = 3,
    INTC__RT_CALL = 16,
    INTC__RT_CLOCK = 32,
    INTC__RT_DMA_READ = 33,
    INTC__RT_DMA_WRITE = 34,
    INTC__RT_FOLD = 35,
    INTC__RT_END = 127
};

#define INTC__REC_CONFIG_FIXED 68u /* then the IDs and the IOAPICs */
#define INTC__REC_IOAPIC_FIXED 12u /* then its pin wiring */
#define INTC__REC_DEVICE_SIZE 12u
#define INTC__REC_CALL_FIXED 48u   /* then the blob */
#define INTC__REC_CLOCK_SIZE 12u
#define INTC__REC_DMA_FIXED 16u    /* then the bytes */
#define INTC__REC_FOLD_SIZE 72u
#define INTC__REC_END_SIZE 8u
#define INTC__REC_NESTED 0x01u     /* call flags: made from a deferred
                                      callback */
/* The host ops members, bit i of the configuration's ops mask. */
enum {
    INTC__HOP_KICK, INTC__HOP_NOW, INTC__HOP_TIMER_ARM, INTC__HOP_DMA_READ,
    INTC__HOP_DMA_WRITE, INTC__HOP_EVENT, INTC__HOP_ALLOC, INTC__HOP_EOI,
    INTC__HOP_IOAPIC_TIMER_ARM, INTC__HOP_APIC_BASE_CHANGED
};

/* A record's frame, checked (record_read.c): it fits in len bytes from
   pos, its length is sane, its CRC matches.  Else false and *why says
   what is wrong (a static sentence, or NULL for "ends without its end
   record"). */
typedef struct intc__rec_frame {
    unsigned type;
    const uint8_t *p; /* payload */
    size_t len;       /* payload length */
    size_t next;      /* offset of the following record */
} intc__rec_frame;
bool intc__rec_frame_at(const uint8_t *buf, size_t len, size_t pos,
                        intc__rec_frame *f, const char **why);
/* An input record (CLOCK, DMA_*, FOLD) has the payload size its type
   says. */
bool intc__rec_input_ok(const intc__rec_frame *f);
/* The fixed part of a CONFIG payload (at least INTC__REC_CONFIG_FIXED
   bytes) into cfg (arrays NULL). */
void intc__rec_cfg_fixed(intc_machine_config *cfg, const uint8_t *p);
/* The IOAPIC part of a CONFIG payload: n IOAPICs from p (len bytes)
   into io (NULL: only check), wiring pointing into it; false if the
   sizes do not add up. */
bool intc__rec_ioapics(const uint8_t *p, size_t len, uint32_t n,
                       intc_ioapic_config *io);

/* CRC-32 (reflected 0xEDB88320) of n bytes, continuing crc (start with
   0; the result is final). */
uint32_t intc__crc32(uint32_t crc, const void *p, size_t n);
/* The op's name ("lapic_mmio_read"), "?" if unknown. */
const char *intc__rec_op_name(unsigned op);
/* Whether the op is a call that does not take the machine (device
   creation and removal), for the nesting rule. */
static inline bool intc__rec_op_unentered(unsigned op)
{
    return op == INTC__OP_MSIX_NEW || op == INTC__OP_MSI_NEW ||
           op == INTC__OP_MSIX_FREE || op == INTC__OP_MSI_FREE;
}
/* Replay hooks (replay.c), reached through the record.c hooks. */
struct intc_replay;
void intc__rp_call(struct intc_replay *r, unsigned op, uint32_t obj,
                   uint64_t a0, uint64_t a1, uint64_t a2, int32_t ret,
                   uint64_t out, const void *blob, size_t len);
uint64_t intc__rp_now(struct intc_replay *r, uint32_t cpu);
bool intc__rp_dma_read(struct intc_replay *r, uint64_t addr, void *buf,
                       size_t len);
bool intc__rp_dma_write(struct intc_replay *r, uint64_t addr,
                        const void *buf, size_t len);
void intc__rp_fold(struct intc_replay *r, uint32_t cpu,
                   const uint64_t bits[4], const uint64_t level[4]);

/* A call record with a variable part: the image of a load, a PIR image,
   an intc_irq argument or result (INTC__IRQ_BYTES, record.c). */
void intc__rec_call_blob(intc_machine *m, unsigned op, uint32_t obj,
                         uint64_t a0, uint64_t a1, uint64_t a2, int32_t ret,
                         uint64_t out, const void *blob, size_t len);
#define INTC__IRQ_BYTES 16u
void intc__rec_irq_bytes(uint8_t b[INTC__IRQ_BYTES], const intc_irq *irq);

/* What became of a message, packed for a call record's out. */
uint64_t intc__rec_delivery(const intc_delivery *d);

/* Host inputs read during a call (each called only with m->rec set). */
uint64_t intc__rec_now(intc_machine *m, uint32_t cpu);
bool intc__rec_dma_read(intc_machine *m, uint64_t addr, void *buf,
                        size_t len);
bool intc__rec_dma_write(intc_machine *m, uint64_t addr, const void *buf,
                         size_t len);
/* Posted vectors folded into cpu's IRR (bits non-zero). */
void intc__rec_fold(intc_machine *m, uint32_t cpu, const uint64_t bits[4],
                    const uint64_t level[4]);

/* The host's callbacks themselves, without the recorder (machine.c,
   iommu.c). */
uint64_t intc__host_now(intc_machine *m, uint32_t cpu);
bool intc__host_dma_read(intc_machine *m, uint64_t addr, void *buf,
                         size_t len);
bool intc__host_dma_write(intc_machine *m, uint64_t addr, const void *buf,
                          size_t len);

/* intc_machine_free(): drop a recorder without writing anything. */
void intc__rec_release(intc_machine *m);

/* snapshot.c: the image as intc_machine_save() writes it, without
   taking the machine and without folding posted vectors. */
intc_err intc__snap_save(intc_machine *m, void *buf, size_t len,
                         size_t *used);
/* lapic.c: fold l's posted vectors into IRR now. */
void intc__lapic_fold_pir(intc_lapic *l);

#endif /* INTC_RECORD_PRIV_H */
