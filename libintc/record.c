/*
 * libintc — the recorder: intc_machine_record() and the hooks every
 * recorded call and host input goes through (record.h documents the
 * contract, docs/recording.md the format byte by byte).
 *
 * The records of a call are written in the order things happen: each
 * host input as it is read (clock, guest memory, posted vectors), then
 * the call itself, with its arguments and results, once the operation is
 * complete and before its deferred callbacks run (INTC_REC sits just
 * before intc__leave()).  A call the host makes from kick(), eoi() or
 * apic_base_changed() therefore follows the call whose deferred callback
 * it came from, tagged with that callback's ordinal
 * (intc__deferred_count() counts them), and a replayer issues it from
 * inside the same callback: the replayed machine goes through the same
 * states in the same order, so it raises the same events in the same
 * order.
 *
 * Records stream through one buffer (allocated at start, through the
 * host's allocator) and leave through write() when it is full and at the
 * end of each call; the CRC of a record is computed as it streams, so a
 * record of any size (a loaded image) passes through the fixed buffer.
 */
#include "internal.h"
#include "msi_priv.h"
#include "snap_priv.h"

#define REC_BUF_SIZE 65536u

typedef struct intc__recorder {
    struct intc__rec hdr;  /* mode INTC__REC_RECORD; first */
    intc_record_fn write;
    void *ctx;
    uint8_t *buf;          /* REC_BUF_SIZE bytes */
    size_t used;
    uint32_t crc;          /* of the record being written (running) */
    bool failed;           /* write() failed: nothing more goes out */
    uint64_t n_calls;      /* call records written */
    uint32_t cb_base;      /* intc__deferred_count() at the last top-level
                              call */
} intc__recorder;

/* ---- CRC-32 ---- */

static const uint32_t crc_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau,
    0x076dc419u, 0x706af48fu, 0xe963a535u, 0x9e6495a3u,
    0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
    0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u,
    0x1db71064u, 0x6ab020f2u, 0xf3b97148u, 0x84be41deu,
    0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
    0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu,
    0x14015c4fu, 0x63066cd9u, 0xfa0f3d63u, 0x8d080df5u,
    0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
    0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu,
    0x35b5a8fau, 0x42b2986cu, 0xdbbbc9d6u, 0xacbcf940u,
    0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
    0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u,
    0x21b4f4b5u, 0x56b3c423u, 0xcfba9599u, 0xb8bda50fu,
    0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
    0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du,
    0x76dc4190u, 0x01db7106u, 0x98d220bcu, 0xefd5102au,
    0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
    0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u,
    0x7f6a0dbbu, 0x086d3d2du, 0x91646c97u, 0xe6635c01u,
    0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u,
    0x65b0d9c6u, 0x12b7e950u, 0x8bbeb8eau, 0xfcb9887cu,
    0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
    0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u,
    0x4adfa541u, 0x3dd895d7u, 0xa4d1c46du, 0xd3d6f4fbu,
    0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
    0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u,
    0x5005713cu, 0x270241aau, 0xbe0b1010u, 0xc90c2086u,
    0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
    0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u,
    0x59b33d17u, 0x2eb40d81u, 0xb7bd5c3bu, 0xc0ba6cadu,
    0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
    0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u,
    0xe3630b12u, 0x94643b84u, 0x0d6d6a3eu, 0x7a6a5aa8u,
    0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
    0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu,
    0xf762575du, 0x806567cbu, 0x196c3671u, 0x6e6b06e7u,
    0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
    0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u,
    0xd6d6a3e8u, 0xa1d1937eu, 0x38d8c2c4u, 0x4fdff252u,
    0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u,
    0xdf60efc3u, 0xa867df55u, 0x316e8eefu, 0x4669be79u,
    0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
    0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu,
    0xc5ba3bbeu, 0xb2bd0b28u, 0x2bb45a92u, 0x5cb36a04u,
    0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
    0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au,
    0x9c0906a9u, 0xeb0e363fu, 0x72076785u, 0x05005713u,
    0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
    0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u,
    0x86d3d2d4u, 0xf1d4e242u, 0x68ddb3f8u, 0x1fda836eu,
    0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
    0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu,
    0x8f659effu, 0xf862ae69u, 0x616bffd3u, 0x166ccf45u,
    0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
    0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu,
    0xaed16a4au, 0xd9d65adcu, 0x40df0b66u, 0x37d83bf0u,
    0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
    0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u,
    0xbad03605u, 0xcdd70693u, 0x54de5729u, 0x23d967bfu,
    0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

uint32_t intc__crc32(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static const char *const op_names[INTC__OP_COUNT_] = {
#define INTC__OP_NAME_(name, val, str) [val] = str,
    INTC__OP_MAP(INTC__OP_NAME_)
#undef INTC__OP_NAME_
};

const char *intc__rec_op_name(unsigned op)
{
    if (op >= INTC__OP_COUNT_ || !op_names[op])
        return "?";
    return op_names[op];
}

/* ---- packing ---- */

uint64_t intc__rec_delivery(const intc_delivery *d)
{
    return (uint64_t)(d->status & 0xff) | (uint64_t)(d->reason & 0xff) << 8 |
           (uint64_t)(d->irte & 0xffff) << 16 | (uint64_t)d->n_cpus << 32;
}

void intc__rec_irq_bytes(uint8_t b[INTC__IRQ_BYTES], const intc_irq *irq)
{
    intc__snap_put(b, irq->fault, 4);
    intc__snap_put(b + 4, irq->index, 4);
    intc__snap_put(b + 8, irq->dest, 4);
    b[12] = irq->vector;
    b[13] = irq->dm;
    b[14] = (uint8_t)(irq->blocked | irq->posted << 1 | irq->remapped << 2 |
                      irq->logical << 3 | irq->level << 4 | irq->rh << 5 |
                      irq->x2apic << 6);
    b[15] = 0;
}

/* ---- the stream ---- */

static intc__recorder *recorder(intc_machine *m)
{
    return (intc__recorder *)(void *)m->rec;
}

static void rec_free(intc_machine *m, intc__recorder *r)
{
    intc__free(m, r->buf, REC_BUF_SIZE);
    intc__free(m, r, sizeof(*r));
}

/* Hand the buffered bytes to write(), a restricted callback. */
static void rec_flush(intc_machine *m, intc__recorder *r)
{
    int rc;
    if (r->used && !r->failed) {
        m->in_cb++;
        rc = r->write(r->ctx, r->buf, r->used);
        m->in_cb--;
        if (rc != 0)
            r->failed = true;
    }
    r->used = 0;
}

static void rec_raw(intc_machine *m, intc__recorder *r, const void *p,
                    size_t n)
{
    const uint8_t *b = p;
    while (n && !r->failed) {
        size_t k = REC_BUF_SIZE - r->used;
        if (k == 0) {
            rec_flush(m, r);
            continue;
        }
        if (k > n)
            k = n;
        memcpy(r->buf + r->used, b, k);
        r->used += k;
        b += k;
        n -= k;
    }
}

/* Payload bytes (and the type byte): streamed and summed. */
static void rec_put(intc_machine *m, intc__recorder *r, const void *p,
                    size_t n)
{
    r->crc = intc__crc32(r->crc, p, n);
    rec_raw(m, r, p, n);
}

static void rec_open(intc_machine *m, intc__recorder *r, unsigned type,
                     size_t len)
{
    uint8_t h[5];
    intc__snap_put(h, len, 4);
    h[4] = (uint8_t)type;
    rec_raw(m, r, h, 4);
    r->crc = 0;
    rec_put(m, r, h + 4, 1);
}

static void rec_close(intc_machine *m, intc__recorder *r)
{
    uint8_t c[4];
    intc__snap_put(c, r->crc, 4);
    rec_raw(m, r, c, 4);
}

/* After a hook: a failed write() ends the recording (record.h). */
static void rec_settle(intc_machine *m, intc__recorder *r)
{
    if (!r->failed)
        return;
    intc__rec_set(m, NULL);
    if (!m->rec_err)
        m->rec_err = INTC_ERR_IO;
    rec_free(m, r);
}

/* One whole record: fixed part p, then n2 bytes at p2. */
static void rec_record(intc_machine *m, intc__recorder *r, unsigned type,
                       const void *p, size_t n, const void *p2, size_t n2)
{
    rec_open(m, r, type, n + n2);
    rec_put(m, r, p, n);
    if (n2)
        rec_put(m, r, p2, n2);
    rec_close(m, r);
}

/* ---- hooks (m->rec set) ---- */

void intc__rec_call_blob(intc_machine *m, unsigned op, uint32_t obj,
                         uint64_t a0, uint64_t a1, uint64_t a2, int32_t ret,
                         uint64_t out, const void *blob, size_t len)
{
    intc__recorder *r = recorder(m);
    uint8_t p[INTC__REC_CALL_FIXED];
    bool nested;

    if (m->rec->mode == INTC__REC_REPLAY) {
        intc__rp_call((struct intc_replay *)(void *)m->rec, op, obj, a0, a1,
                      a2, ret, out, blob, len);
        return;
    }
    if (len > INTC__REC_MAX_PAYLOAD - INTC__REC_CALL_FIXED) {
        m->rec_err = INTC_ERR_NOSPC; /* a record too large to replay */
        r->failed = true;
        rec_settle(m, r);
        return;
    }
    /* Made from a deferred callback: the outermost call's depth is 1
       (0 for the device calls, which do not take the machine). */
    nested = m->depth > (intc__rec_op_unentered(op) ? 0u : 1u);
    if (!nested)
        r->cb_base = intc__deferred_count(m);
    memset(p, 0, sizeof p);
    p[0] = (uint8_t)op;
    p[1] = nested ? INTC__REC_NESTED : 0;
    intc__snap_put(p + 4,
                   nested ? intc__deferred_count(m) - r->cb_base - 1 : 0, 4);
    intc__snap_put(p + 8, obj, 4);
    intc__snap_put(p + 12, (uint32_t)ret, 4);
    intc__snap_put(p + 16, a0, 8);
    intc__snap_put(p + 24, a1, 8);
    intc__snap_put(p + 32, a2, 8);
    intc__snap_put(p + 40, out, 8);
    rec_record(m, r, INTC__RT_CALL, p, sizeof p, blob, len);
    r->n_calls++;
    rec_flush(m, r);
    rec_settle(m, r);
}

void intc__rec_call(intc_machine *m, unsigned op, uint32_t obj, uint64_t a0,
                    uint64_t a1, uint64_t a2, int32_t ret, uint64_t out)
{
    intc__rec_call_blob(m, op, obj, a0, a1, a2, ret, out, NULL, 0);
}

uint64_t intc__rec_now(intc_machine *m, uint32_t cpu)
{
    intc__recorder *r = recorder(m);
    uint8_t p[INTC__REC_CLOCK_SIZE];
    uint64_t t;

    if (m->rec->mode == INTC__REC_REPLAY)
        return intc__rp_now((struct intc_replay *)(void *)m->rec, cpu);
    t = intc__host_now(m, cpu);
    intc__snap_put(p, cpu, 4);
    intc__snap_put(p + 4, t, 8);
    rec_record(m, r, INTC__RT_CLOCK, p, sizeof p, NULL, 0);
    rec_settle(m, r);
    return t;
}

/* A guest-memory access: address, length, 0 (done) or 1 (failed). */
static void dma_head(uint8_t p[INTC__REC_DMA_FIXED], uint64_t addr,
                     size_t len, bool ok)
{
    intc__snap_put(p, addr, 8);
    intc__snap_put(p + 8, len, 4);
    intc__snap_put(p + 12, ok ? 0 : 1, 4);
}

bool intc__rec_dma_read(intc_machine *m, uint64_t addr, void *buf,
                        size_t len)
{
    intc__recorder *r = recorder(m);
    uint8_t p[INTC__REC_DMA_FIXED];
    bool ok;

    if (m->rec->mode == INTC__REC_REPLAY)
        return intc__rp_dma_read((struct intc_replay *)(void *)m->rec, addr,
                                 buf, len);
    ok = intc__host_dma_read(m, addr, buf, len);
    dma_head(p, addr, len, ok);
    rec_record(m, r, INTC__RT_DMA_READ, p, sizeof p, buf, ok ? len : 0);
    rec_settle(m, r);
    return ok;
}

bool intc__rec_dma_write(intc_machine *m, uint64_t addr, const void *buf,
                         size_t len)
{
    intc__recorder *r = recorder(m);
    uint8_t p[INTC__REC_DMA_FIXED];
    bool ok;

    if (m->rec->mode == INTC__REC_REPLAY)
        return intc__rp_dma_write((struct intc_replay *)(void *)m->rec, addr,
                                  buf, len);
    ok = intc__host_dma_write(m, addr, buf, len);
    dma_head(p, addr, len, ok);
    rec_record(m, r, INTC__RT_DMA_WRITE, p, sizeof p, buf, len);
    rec_settle(m, r);
    return ok;
}

void intc__rec_fold(intc_machine *m, uint32_t cpu, const uint64_t bits[4],
                    const uint64_t level[4])
{
    intc__recorder *r = recorder(m);
    uint8_t p[INTC__REC_FOLD_SIZE];

    if (m->rec->mode == INTC__REC_REPLAY) {
        intc__rp_fold((struct intc_replay *)(void *)m->rec, cpu, bits, level);
        return;
    }
    memset(p, 0, sizeof p);
    intc__snap_put(p, cpu, 4);
    for (unsigned w = 0; w < 4; w++) {
        intc__snap_put(p + 8 + 8 * w, bits[w], 8);
        intc__snap_put(p + 40 + 8 * w, level[w], 8);
    }
    rec_record(m, r, INTC__RT_FOLD, p, sizeof p, NULL, 0);
    rec_settle(m, r);
}

/* ---- the header ---- */

static uint32_t ops_mask(const intc_host_ops *o)
{
    return (uint32_t)(!!o->kick << INTC__HOP_KICK |
                      !!o->now_ns << INTC__HOP_NOW |
                      !!o->timer_arm << INTC__HOP_TIMER_ARM |
                      !!o->dma_read << INTC__HOP_DMA_READ |
                      !!o->dma_write << INTC__HOP_DMA_WRITE |
                      !!o->event << INTC__HOP_EVENT |
                      !!o->alloc << INTC__HOP_ALLOC |
                      !!o->eoi << INTC__HOP_EOI |
                      !!o->ioapic_timer_arm << INTC__HOP_IOAPIC_TIMER_ARM |
                      !!o->apic_base_changed << INTC__HOP_APIC_BASE_CHANGED);
}

static void rec_config(intc_machine *m, intc__recorder *r)
{
    const intc_machine_config *c = &m->cfg;
    uint8_t p[INTC__REC_CONFIG_FIXED];
    size_t len = sizeof p + 4ull * m->n_cpus;

    for (uint32_t i = 0; i < m->n_ioapics; i++)
        len += INTC__REC_IOAPIC_FIXED + m->ioapics[i].n_pins;
    memset(p, 0, sizeof p);
    intc__snap_put(p, m->n_cpus, 4);
    intc__snap_put(p + 4, c->bsp, 4);
    intc__snap_put(p + 8,
                   (uint32_t)(c->x2apic | c->tsc_deadline << 1 |
                              c->directed_eoi << 2 | c->lvt_cmci << 3 |
                              c->lowest_priority_ipi << 4 |
                              c->focus_processor << 5 |
                              c->apic_bus_errors << 6 | c->msi_ext_dest << 7),
                   4);
    p[12] = c->lapic_version;
    p[13] = c->phys_addr_bits;
    intc__snap_put(p + 16, c->apic_timer_hz, 8);
    intc__snap_put(p + 24, c->tsc_hz, 8);
    intc__snap_put(p + 32, c->storm_threshold, 4);
    intc__snap_put(p + 36, m->n_ioapics, 4);
    intc__snap_put(p + 40, c->storm_throttle_ns, 8);
    intc__snap_put(p + 48, c->iommu.kind, 4);
    p[52] = c->iommu.x2apic;
    p[53] = c->iommu.posted;
    intc__snap_put(p + 54, c->iommu.n_fault_regs, 2);
    intc__snap_put(p + 56, c->iommu.cache_entries, 4);
    intc__snap_put(p + 60, ops_mask(&m->ops), 4);
    intc__snap_put(p + 64, m->next_unit, 4);
    rec_open(m, r, INTC__RT_CONFIG, len);
    rec_put(m, r, p, sizeof p);
    for (uint32_t i = 0; i < m->n_cpus; i++) {
        uint8_t id[4];
        intc__snap_put(id, m->cpus[i].initial_id, 4);
        rec_put(m, r, id, 4);
    }
    for (uint32_t i = 0; i < m->n_ioapics; i++) {
        const intc_ioapic *io = &m->ioapics[i];
        uint8_t q[INTC__REC_IOAPIC_FIXED] = {io->reset_id, io->version};
        intc__snap_put(q + 2, io->n_pins, 2);
        intc__snap_put(q + 4, io->gsi_base, 4);
        intc__snap_put(q + 8, io->source_id, 2);
        rec_put(m, r, q, sizeof q);
        for (uint32_t pin = 0; pin < io->n_pins; pin++)
            rec_put(m, r, &io->pins[pin].wiring, 1);
    }
    rec_close(m, r);
}

/* The device with the lowest unit above after (UINT32_MAX: none);
   *x or *c is set to it. */
static uint32_t next_device(intc_machine *m, int64_t after, intc_msix **x,
                            intc_msi **c)
{
    uint32_t best = UINT32_MAX;
    *x = NULL;
    *c = NULL;
    for (intc_msix *d = m->msix; d; d = d->next)
        if ((int64_t)d->unit > after && d->unit <= best) {
            best = d->unit;
            *x = d;
        }
    for (intc_msi *d = m->msi; d; d = d->next)
        if ((int64_t)d->unit > after && d->unit <= best) {
            best = d->unit;
            *x = NULL;
            *c = d;
        }
    return best;
}

/* The devices in creation order (ascending units), so a replayer that
   creates them in this order rebuilds both lists as they are. */
static void rec_devices(intc_machine *m, intc__recorder *r)
{
    int64_t after = -1;
    intc_msix *x;
    intc_msi *c;

    while (next_device(m, after, &x, &c), x || c) {
        uint8_t p[INTC__REC_DEVICE_SIZE] = {0};
        if (x) {
            p[0] = 1;
            intc__snap_put(p + 2, x->sid, 2);
            intc__snap_put(p + 4, x->unit, 4);
            intc__snap_put(p + 8, x->nvec, 2);
            after = x->unit;
        } else {
            p[0] = 2;
            p[1] = (uint8_t)((c->regs[2] >> 7 & 1) | (c->regs[3] & 1) << 1);
            intc__snap_put(p + 2, c->sid, 2);
            intc__snap_put(p + 4, c->unit, 4);
            intc__snap_put(p + 8, (c->regs[2] >> 1) & 7, 2);
            after = c->unit;
        }
        rec_record(m, r, INTC__RT_DEVICE, p, sizeof p, NULL, 0);
    }
}

/* The state now, as an image: taken without folding posted vectors, so
   starting to record changes nothing (a later fold is an input). */
static intc_err rec_image(intc_machine *m, intc__recorder *r)
{
    size_t size = 0;
    uint8_t *img;

    (void)intc__snap_save(m, NULL, 0, &size);
    if (size > INTC__REC_MAX_PAYLOAD)
        return INTC_ERR_NOSPC;
    img = intc__alloc(m, size);
    if (!img)
        return INTC_ERR_NOMEM;
    (void)intc__snap_save(m, img, size, &size);
    rec_record(m, r, INTC__RT_IMAGE, img, size, NULL, 0);
    intc__free(m, img, size);
    return INTC_OK;
}

static intc_err rec_start(intc_machine *m, intc_record_fn write, void *ctx)
{
    intc__recorder *r = intc__alloc(m, sizeof(*r));
    uint8_t pre[INTC__REC_PREAMBLE];
    intc_err err;

    if (!r)
        return INTC_ERR_NOMEM;
    r->buf = intc__alloc(m, REC_BUF_SIZE);
    if (!r->buf) {
        intc__free(m, r, sizeof(*r));
        return INTC_ERR_NOMEM;
    }
    r->hdr.mode = INTC__REC_RECORD;
    r->write = write;
    r->ctx = ctx;
    memcpy(pre, INTC__REC_MAGIC, 8);
    intc__snap_put(pre + 8, INTC_RECORD_FORMAT, 4);
    intc__snap_put(pre + 12, INTC_VERSION_HEX, 4);
    m->in_cb++; /* nothing may call in while the header is written */
    rec_raw(m, r, pre, sizeof pre);
    rec_config(m, r);
    rec_devices(m, r);
    err = rec_image(m, r);
    if (!err)
        rec_flush(m, r);
    m->in_cb--;
    if (!err && r->failed)
        err = INTC_ERR_IO;
    if (err) {
        rec_free(m, r);
        return err;
    }
    intc__rec_set(m, &r->hdr);
    return INTC_OK;
}

static intc_err rec_stop(intc_machine *m)
{
    intc__recorder *r = recorder(m);
    uint8_t p[INTC__REC_END_SIZE];
    intc_err err;

    if (!r) {
        /* Nothing on: report (once) why the last recording ended. */
        err = m->rec_err;
        m->rec_err = INTC_OK;
        return err;
    }
    intc__snap_put(p, r->n_calls, 8);
    rec_record(m, r, INTC__RT_END, p, sizeof p, NULL, 0);
    rec_flush(m, r);
    err = r->failed ? INTC_ERR_IO : INTC_OK;
    intc__rec_set(m, NULL);
    rec_free(m, r);
    return err;
}

intc_err intc_machine_record(intc_machine *m, intc_record_fn write,
                             void *ctx)
{
    if (!m)
        return INTC_ERR_INVAL;
    if (m->in_cb || m->depth)
        return INTC_ERR_BUSY;
    if (m->rec && m->rec->mode == INTC__REC_REPLAY)
        return INTC_ERR_UNSUPPORTED;
    if (!write)
        return rec_stop(m);
    if (m->rec)
        return INTC_ERR_INVAL;
    m->rec_err = INTC_OK;
    return rec_start(m, write, ctx);
}

int intc_machine_recording(const intc_machine *m)
{
    if (!m)
        return 0;
    if (m->rec)
        return m->rec->mode == INTC__REC_RECORD ? 1 : 0;
    return m->rec_err;
}

void intc__rec_release(intc_machine *m)
{
    if (m->rec && m->rec->mode == INTC__REC_RECORD) {
        rec_free(m, recorder(m));
        intc__rec_set(m, NULL);
    }
}
