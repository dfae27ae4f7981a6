/*
 * libintc — machine snapshots: intc_machine_save() and intc_machine_load()
 * (machine.h documents the contract).
 *
 * Image (all integers little-endian, fixed width):
 *
 *   off  size  field
 *     0     8  magic "INTCSNAP"
 *     8     4  format version (SN_VERSION)
 *    12     4  header size (SN_HDR_SIZE)
 *    16     8  payload length
 *    24     4  CRC-32 (IEEE 802.3) of the whole image except this field
 *    28     8  configuration fingerprint (sn_fingerprint)
 *    36     -  payload: the fields listed once, in sn_walk()
 *
 * The CRC covers the header too (not only the payload), so a damaged
 * fingerprint or length reads as CORRUPT, not as a foreign machine.
 *
 * One walker (sn_walk) lists every field once and runs in three modes:
 * SAVE writes the machine's values, CHECK reads the image and validates
 * every field (masks of stored bits, enums, cross-field invariants)
 * without storing anything, LOAD stores.  LOAD runs only after CHECK
 * accepted the whole image, so it cannot fail midway (STYLE rule 9).
 * Derived caches (IRRV/ISRV/PPR, software enable, mode, timer shift, the
 * routing maps) are not in the image: they are rebuilt after LOAD.
 * Posted-interrupt requests are folded into IRR before SAVE.
 */
#include "internal.h"
#include "msi_priv.h"

#define SN_VERSION 1u
#define SN_HDR_SIZE 36u
#define SN_CRC_OFF 24u

enum sn_mode { SN_SAVE, SN_CHECK, SN_LOAD };

typedef struct sn {
    enum sn_mode mode;
    intc_machine *m;
    uint8_t *out;        /* SAVE: where to write; NULL only measures */
    const uint8_t *in;   /* CHECK, LOAD: the payload */
    size_t pos;          /* payload bytes walked */
    size_t len;          /* CHECK, LOAD: payload length */
    bool bad;            /* CHECK: the image was refused */
    const char *why;     /* the first refused field (debugging aid) */
} sn;

_Static_assert(sizeof(bool) == 1, "bool fields are stored as one byte");

/* ---- CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) ---- */

static const uint32_t crc_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu,
    0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
    0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
    0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
    0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
    0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
    0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
    0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
    0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
    0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u, 0x01db7106u,
    0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
    0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du,
    0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
    0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
    0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u,
    0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
    0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau,
    0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
    0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
    0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u,
    0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
    0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
    0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
    0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
    0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u,
    0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
    0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u,
    0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
    0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
    0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
    0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
    0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u,
    0x616bffd3u, 0x166ccf45u, 0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
    0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
    0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
    0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u,
    0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du

};

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* The image's CRC: every byte except the CRC field itself. */
static uint32_t image_crc(const uint8_t *img, size_t size)
{
    uint32_t crc = crc32_update(0, img, SN_CRC_OFF);
    return crc32_update(crc, img + SN_CRC_OFF + 4,
                        size - SN_CRC_OFF - 4);
}

/* ---- little-endian helpers ---- */

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* ---- the field primitive ---- */

/*
 * One field of n bytes.  SAVE writes v and returns it; CHECK and LOAD
 * read the image's value, CHECK refuses it if it has a bit outside mask
 * (or the image is too short), and both return it.
 */
static uint64_t sn_field(sn *c, unsigned n, uint64_t v, uint64_t mask,
                         const char *name)
{
    if (c->mode == SN_SAVE) {
        if (c->out)
            put_le(c->out + c->pos, v, n);
        c->pos += n;
        return v;
    }
    if (c->len - c->pos < n) {
        if (!c->bad)
            c->why = "truncated";
        c->bad = true;
        c->pos = c->len;
        return 0;
    }
    v = get_le(c->in + c->pos, n);
    c->pos += n;
    if (v & ~mask) {
        if (!c->bad)
            c->why = name;
        c->bad = true;
    }
    return v;
}

/* A cross-field rule: CHECK refuses the image where it does not hold.
   (In SAVE it documents the invariants the live machine keeps.) */
static void sn_req(sn *c, bool ok, const char *why)
{
    if (!ok && c->mode != SN_SAVE) {
        if (!c->bad)
            c->why = why;
        c->bad = true;
    }
}

/* Field lval with mask: in LOAD, store the image's value. */
#define SN(c, lval, mask)                                                   \
    do {                                                                    \
        uint64_t sn_v_ = sn_field((c), (unsigned)sizeof(lval),              \
                                  (uint64_t)(lval), (mask), #lval);         \
        if ((c)->mode == SN_LOAD)                                           \
            (lval) = sn_v_;                                                 \
    } while (0)

/* The same, also declaring uint64_t name = the field's value (the
   machine's in SAVE, the image's otherwise) for cross-field rules. */
#define SN_VAR(c, name, lval, mask)                                         \
    uint64_t name = sn_field((c), (unsigned)sizeof(lval),                   \
                             (uint64_t)(lval), (mask), #lval);              \
    if ((c)->mode == SN_LOAD)                                               \
        (lval) = name

#define SN_BOOL(c, lval) SN(c, lval, 1)
#define ALL64 UINT64_MAX

/* ---- Local APIC ---- */

/* ICR bits that can be stored (lapic.c: ICR_LO_STORED for xAPIC, the
   x2APIC allowed set without delivery status). */
#define SN_ICR_MASK 0xffffffff000ccfffull

static void sn_lapic(sn *c, intc_lapic *l)
{
    const intc_machine_config *cfg = &c->m->cfg;
    uint64_t base_mask = ((1ull << cfg->phys_addr_bits) - 1) & ~0x2ffull;
    unsigned mode, tmode = 0;

    if (!cfg->x2apic)
        base_mask &= ~INTC_APIC_BASE_EXTD;
    SN_VAR(c, base, l->apic_base, base_mask);
    /* 11.12.5: EN=0 with EXTD=1 is an invalid state. */
    sn_req(c, !(base & INTC_APIC_BASE_EXTD) || (base & INTC_APIC_BASE_EN),
           "IA32_APIC_BASE: EXTD without EN");
    mode = !(base & INTC_APIC_BASE_EN)     ? INTC_MODE_DISABLED
           : (base & INTC_APIC_BASE_EXTD) ? INTC_MODE_X2APIC
                                          : INTC_MODE_XAPIC;

    SN(c, l->xapic_id, 0xff);
    SN_VAR(c, ldr, l->ldr, 0xffffffffu);
    if (mode == INTC_MODE_X2APIC)
        sn_req(c, ldr == intc_lapic_x2apic_ldr(l->initial_id),
               "x2APIC LDR not derived from the ID");
    else
        sn_req(c, !(ldr & 0x00ffffffu), "xAPIC LDR reserved bits");
    SN_VAR(c, dfr, l->dfr, 0xffffffffu);
    sn_req(c, (dfr & 0x0fffffffu) == 0x0fffffffu, "DFR bits 27:0 not 1");
    SN(c, l->tpr, 0xff);
    SN_VAR(c, svr, l->svr, intc_lapic_svr_mask(l));
    for (unsigned i = 0; i < INTC_LVT_COUNT; i++) {
        bool lint = i == INTC_LVT_LINT0 || i == INTC_LVT_LINT1;
        SN_VAR(c, lvt, l->lvt[i],
               intc_lapic_lvt_mask(l, i) | (lint ? LVT_REMOTE_IRR : 0));
        /* Remote IRR exists only for level entries (11.5.1). */
        sn_req(c, !(lvt & LVT_REMOTE_IRR) || (lvt & LVT_LEVEL),
               "LVT remote IRR on an edge entry");
        /* 11.4.7.2: software-disabled keeps every mask bit set. */
        sn_req(c, (svr & SVR_ENABLE) || (lvt & LVT_MASKED),
               "LVT unmasked while software-disabled");
        if (i == INTC_LVT_CMCI && !cfg->lvt_cmci)
            sn_req(c, lvt == LVT_MASKED, "absent LVT CMCI not at reset");
        if (i == INTC_LVT_TIMER)
            tmode = intc_lvt_timer_mode((uint32_t)lvt);
    }
    SN_VAR(c, icr, l->icr, SN_ICR_MASK);
    /* xAPIC ICR high holds only the destination field [63:56]. */
    sn_req(c, mode == INTC_MODE_X2APIC || !(icr & 0x00ffffff00000000ull),
           "xAPIC ICR high reserved bits");
    SN(c, l->esr, 0xff);
    SN(c, l->esr_pending, 0xff);
    SN_BOOL(c, l->esr_armed);
    SN_BOOL(c, l->lint_level[0]);
    SN_BOOL(c, l->lint_level[1]);
    for (unsigned w = 0; w < 4; w++) {
        /* Vectors 0-15 never enter IRR, ISR or TMR (11.5.2). */
        uint64_t vm = w ? ALL64 : ~0xffffull;
        SN(c, l->irr[w], vm);
        SN(c, l->isr[w], vm);
        SN(c, l->tmr[w], vm);
    }
    SN(c, l->sig, INTC_PEND_NMI | INTC_PEND_SMI | INTC_PEND_INIT |
                      INTC_PEND_SIPI | INTC_PEND_EXTINT);
    SN_BOOL(c, l->wait_sipi);
    SN(c, l->sipi_vector, 0xff);

    /* Timer (lapic_timer.c). */
    SN_VAR(c, ticr, l->timer_icr, 0xffffffffu);
    SN(c, l->timer_dcr, 0xb);
    SN_VAR(c, running, l->timer_running, 1);
    SN(c, l->timer_count0, 0xffffffffu);
    SN(c, l->timer_start, ALL64);
    SN(c, l->timer_periods, ALL64);
    SN_VAR(c, deadline, l->deadline, ALL64);
    SN_VAR(c, tscd, l->tsc_deadline, ALL64);
    SN(c, l->tsc_offset, ALL64);
    /* Counting happens only in one-shot/periodic mode, from a non-zero
       initial count, with a deadline armed; stopped, nothing is armed
       outside TSC-deadline mode. */
    sn_req(c, !running || (tmode <= INTC_TIMER_PERIODIC && ticr &&
                           deadline != UINT64_MAX),
           "timer counting in a mode that does not count");
    sn_req(c, running || tmode == INTC_TIMER_TSC_DEADLINE ||
                  deadline == UINT64_MAX,
           "timer deadline armed while stopped");
    /* TSC-deadline mode: initial count writes are ignored and entering
       the mode clears it; the deadline is armed exactly when
       IA32_TSC_DEADLINE is non-zero (11.5.4.1). */
    sn_req(c, tmode == INTC_TIMER_TSC_DEADLINE || !tscd,
           "IA32_TSC_DEADLINE set outside TSC-deadline mode");
    if (tmode == INTC_TIMER_TSC_DEADLINE)
        sn_req(c, !ticr && (tscd == 0) == (deadline == UINT64_MAX),
               "TSC-deadline timer state inconsistent");
}

/* ---- I/O APIC ---- */

static void sn_ioapic(sn *c, intc_ioapic *io)
{
    const intc_machine_config *cfg = &c->m->cfg;
    uint64_t next = UINT64_MAX;

    SN(c, io->id, 0xf); /* ID register [27:24] */
    SN(c, io->ioregsel, 0xff);
    for (uint32_t i = 0; i < io->n_pins; i++) {
        struct intc_ioapic_pin *p = &io->pins[i];
        SN_VAR(c, rte, p->rte, intc_ioapic_rte_mask());
        /* Remote IRR only on entries with level semantics. */
        sn_req(c, !(rte & INTC_RTE_REMOTE_IRR) ||
                      intc_ioapic_rte_is_level(rte),
               "RTE Remote IRR on an edge entry");
        SN(c, p->sources, 0xffffffffu); /* INTC_IOAPIC_MAX_SOURCES bits */
        SN_VAR(c, storming, p->storming, 1);
        SN_BOOL(c, p->send_pending);
        SN(c, p->redeliveries, 0xffffffffu);
        SN_VAR(c, until, p->throttle_until, ALL64);
        sn_req(c, !storming || cfg->storm_threshold,
               "storm without a storm threshold");
        /* Throttling happens only in a storm with a throttle set. */
        sn_req(c, !until || (storming && cfg->storm_throttle_ns),
               "throttled pin without a storm");
        if (until && until < next)
            next = until;
    }
    /* The throttle timer is armed at the earliest throttled pin. */
    SN_VAR(c, dl, io->timer_deadline, ALL64);
    sn_req(c, dl == next, "IOAPIC throttle timer out of step");
}

/* ---- MSI-X and MSI ---- */

static void sn_msix(sn *c, intc_msix *x)
{
    size_t words = ((size_t)x->nvec + 63) / 64;

    SN_VAR(c, en, x->enabled, 1);
    SN_VAR(c, fmask, x->fmask, 1);
    /* Per group of 64 vectors: its PBA qword, then its table entries. */
    for (size_t w = 0; w < words; w++) {
        uint32_t first = (uint32_t)(w * 64);
        uint32_t n = x->nvec - first < 64 ? x->nvec - first : 64;
        SN_VAR(c, pba, x->pba[w], n == 64 ? ALL64 : (1ull << n) - 1);
        for (uint32_t k = 0; k < n; k++) {
            struct intc_msix_entry *e = &x->table[first + k];
            SN(c, e->addr_lo, 0xffffffffu);
            SN(c, e->addr_hi, 0xffffffffu);
            SN(c, e->data, 0xffffffffu);
            SN_VAR(c, ctrl, e->ctrl, MSIX_CTRL_MASK); /* 31:1 reserved */
            /* PCIe 7.7.2: a pending message goes out (and its bit
               clears) when the vector is unmasked, so an enabled,
               unmasked vector has no pending bit. */
            sn_req(c, !en || fmask || (ctrl & MSIX_CTRL_MASK) ||
                          !((pba >> k) & 1),
                   "MSI-X pending bit of an unmasked vector");
        }
    }
}

static uint32_t msi_rd32(const uint8_t *r, unsigned off)
{
    return (uint32_t)get_le(r + off, 4);
}

static void sn_msi(sn *c, intc_msi *d)
{
    uint8_t img[24] = {0};
    uint32_t mbits = 0;

    /* Bits no configuration write can change keep the function's value;
       the pending bits (written by the function) only for vectors it
       has. */
    if (d->off_mask) {
        unsigned mmc = (d->regs[2] >> 1) & 7;
        mbits = mmc == 5 ? 0xffffffffu : (1u << (1u << mmc)) - 1;
    }
    for (unsigned a = 0; a < d->size; a++) {
        uint8_t fixed = (uint8_t)~d->wmask[a];
        bool pend = d->off_mask && a >= d->off_pend && a < d->off_pend + 4u;
        SN_VAR(c, b, d->regs[a], 0xff);
        if (pend)
            sn_req(c, !(b & ~(mbits >> (8 * (a - d->off_pend)))),
                   "MSI pending bit beyond the function's vectors");
        else
            sn_req(c, (b & fixed) == (d->regs[a] & fixed),
                   "MSI read-only bits changed");
        img[a] = (uint8_t)b;
    }
    /* Enabled: a pending vector that is not masked would have been sent
       (PCI 3.0 6.8.1.7-8). */
    if (d->off_mask && (img[2] & 1)) {
        unsigned mmc = (img[2] >> 1) & 7, mme = (img[2] >> 4) & 7;
        unsigned n = 1u << (mme > mmc ? mmc : mme);
        uint32_t live = n >= 32 ? 0xffffffffu : (1u << n) - 1;
        sn_req(c, !(msi_rd32(img, d->off_pend) & ~msi_rd32(img, d->off_mask) &
                    live),
               "MSI pending bit of an unmasked vector");
    }
}

/* ---- IOMMU ---- */

static void sn_iec(sn *c, intc_iommu *u)
{
    for (uint32_t i = 0; i <= u->iec_mask; i++) {
        struct intc_iec_line *e = &u->iec[i];
        SN_VAR(c, key, e->key, ALL64);
        /* Direct-mapped: a line holds only keys that index to it. */
        sn_req(c, key == UINT64_MAX || (key & u->iec_mask) == i,
               "IOMMU cache line holds a foreign key");
        SN(c, e->lo, ALL64);
        SN(c, e->hi, ALL64);
    }
}

#define SN_VTD(c, u, field, off) SN(c, (u)->vtd.field, intc_vtd_reg_mask(u, off))

static void sn_vtd(sn *c, intc_iommu *u)
{
    struct intc_vtd *v = &u->vtd;
    bool any_f = false;

    SN_VTD(c, u, gsts, INTC_VTD_GSTS);
    SN_VTD(c, u, rtaddr, INTC_VTD_RTADDR);
    SN_VTD(c, u, ccmd, INTC_VTD_CCMD);
    SN_VAR(c, fsts, v->fsts, intc_vtd_reg_mask(u, INTC_VTD_FSTS));
    SN_VTD(c, u, fectl, INTC_VTD_FECTL);
    SN_VTD(c, u, fedata, INTC_VTD_FEDATA);
    SN_VTD(c, u, feaddr, INTC_VTD_FEADDR);
    SN_VTD(c, u, feuaddr, INTC_VTD_FEUADDR);
    SN_VTD(c, u, iqh, INTC_VTD_IQH);
    SN_VTD(c, u, iqt, INTC_VTD_IQT);
    SN_VTD(c, u, iqa, INTC_VTD_IQA);
    SN_VTD(c, u, ics, INTC_VTD_ICS);
    SN_VTD(c, u, iectl, INTC_VTD_IECTL);
    SN_VTD(c, u, iedata, INTC_VTD_IEDATA);
    SN_VTD(c, u, ieaddr, INTC_VTD_IEADDR);
    SN_VTD(c, u, ieuaddr, INTC_VTD_IEUADDR);
    SN_VTD(c, u, irta, INTC_VTD_IRTA);
    SN_VTD(c, u, irta_active, INTC_VTD_IRTA);
    for (uint32_t i = 0; i < 2u * v->nfr; i++) {
        SN_VAR(c, r, v->frr[i], intc_vtd_reg_mask(u, INTC_VTD_FRR + 8 * i));
        if (i & 1)
            any_f |= (r >> 63) != 0;
    }
    SN_VAR(c, fri, v->fri, 0xffff);
    /* 7.3.1: FRI names a register that exists, PPF says whether any
       record has its F bit. */
    sn_req(c, fri < v->nfr, "fault recording index beyond the registers");
    sn_req(c, ((fsts >> 8) & 0xff) < v->nfr, "FSTS.FRI beyond the registers");
    sn_req(c, !!(fsts & 2) == any_f, "FSTS.PPF out of step with F bits");
}

#define SN_AMD(c, u, field, off) SN(c, (u)->amd.field, intc_amdvi_reg_mask(u, off))

static void sn_amdvi(sn *c, intc_iommu *u)
{
    SN_AMD(c, u, devtab, INTC_AMDVI_DEVTAB);
    SN_AMD(c, u, cmdbuf, INTC_AMDVI_CMDBUF);
    SN_AMD(c, u, evtlog, INTC_AMDVI_EVTLOG);
    SN_AMD(c, u, control, INTC_AMDVI_CONTROL);
    SN_AMD(c, u, cmd_head, INTC_AMDVI_CMD_HEAD);
    SN_AMD(c, u, cmd_tail, INTC_AMDVI_CMD_TAIL);
    SN_AMD(c, u, evt_head, INTC_AMDVI_EVT_HEAD);
    SN_AMD(c, u, evt_tail, INTC_AMDVI_EVT_TAIL);
    SN_AMD(c, u, status, INTC_AMDVI_STATUS);
    SN_AMD(c, u, excl_base, INTC_AMDVI_EXCL_BASE);
    SN_AMD(c, u, excl_limit, INTC_AMDVI_EXCL_LIMIT);
}

/* ---- the whole machine, in a fixed order ---- */

static void sn_walk(sn *c)
{
    intc_machine *m = c->m;

    for (uint32_t i = 0; i < m->n_cpus; i++)
        sn_lapic(c, &m->cpus[i]);
    SN_VAR(c, lp, m->lp_last, 0xffffffffu);
    sn_req(c, lp < m->n_cpus, "lowest-priority position beyond CPUs");
    for (uint32_t i = 0; i < m->n_ioapics; i++)
        sn_ioapic(c, &m->ioapics[i]);
    for (intc_msix *x = m->msix; x; x = x->next)
        sn_msix(c, x);
    for (intc_msi *d = m->msi; d; d = d->next)
        sn_msi(c, d);
    if (m->iommu) {
        sn_iec(c, m->iommu);
        if (m->iommu->kind == INTC_IOMMU_VTD)
            sn_vtd(c, m->iommu);
        else
            sn_amdvi(c, m->iommu);
    }
}

/* ---- configuration fingerprint ---- */

/* FNV-1a, 64-bit, over each value as 8 little-endian bytes. */
static void fp_add(uint64_t *h, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++) {
        *h ^= (uint8_t)(v >> (8 * i));
        *h *= 0x100000001b3ull;
    }
}

static uint64_t sn_fingerprint(const intc_machine *m)
{
    const intc_machine_config *cfg = &m->cfg;
    uint64_t h = 0xcbf29ce484222325ull;

    fp_add(&h, m->n_cpus);
    for (uint32_t i = 0; i < m->n_cpus; i++)
        fp_add(&h, m->cpus[i].initial_id);
    fp_add(&h, cfg->bsp);
    fp_add(&h, (uint64_t)cfg->x2apic | (uint64_t)cfg->tsc_deadline << 1 |
                   (uint64_t)cfg->directed_eoi << 2 |
                   (uint64_t)cfg->lvt_cmci << 3 |
                   (uint64_t)cfg->lowest_priority_ipi << 4 |
                   (uint64_t)cfg->focus_processor << 5 |
                   (uint64_t)cfg->apic_bus_errors << 6 |
                   (uint64_t)cfg->msi_ext_dest << 7);
    fp_add(&h, cfg->lapic_version);
    fp_add(&h, cfg->phys_addr_bits);
    fp_add(&h, cfg->apic_timer_hz);
    fp_add(&h, cfg->tsc_hz);
    fp_add(&h, cfg->storm_threshold);
    fp_add(&h, cfg->storm_throttle_ns);
    fp_add(&h, m->n_ioapics);
    for (uint32_t i = 0; i < m->n_ioapics; i++) {
        const intc_ioapic *io = &m->ioapics[i];
        fp_add(&h, io->reset_id);
        fp_add(&h, io->version);
        fp_add(&h, io->n_pins);
        fp_add(&h, io->gsi_base);
        fp_add(&h, io->source_id);
        for (uint32_t p = 0; p < io->n_pins; p++)
            fp_add(&h, io->pins[p].wiring);
    }
    /* Devices in list order (newest first), with their event units. */
    for (const intc_msix *x = m->msix; x; x = x->next) {
        fp_add(&h, 0x5849534dull); /* "MSIX" */
        fp_add(&h, (uint64_t)x->nvec << 32 | (uint64_t)x->sid << 16);
        fp_add(&h, x->unit);
    }
    for (const intc_msi *d = m->msi; d; d = d->next) {
        /* Layout: size, offsets, and the read-only control bits (MMC,
           64-bit, per-vector masking). */
        fp_add(&h, 0x49534dull); /* "MSI" */
        fp_add(&h, (uint64_t)d->size | (uint64_t)d->off_data << 8 |
                       (uint64_t)d->off_mask << 16 |
                       (uint64_t)d->off_pend << 24 |
                       (uint64_t)(d->regs[2] & 0x8e) << 32 |
                       (uint64_t)(d->regs[3] & 0x01) << 40 |
                       (uint64_t)d->sid << 48);
        fp_add(&h, d->unit);
    }
    fp_add(&h, m->iommu ? m->iommu->kind : INTC_IOMMU_NONE);
    if (m->iommu) {
        const intc_iommu_config *ic = &m->iommu->cfg;
        fp_add(&h, (uint64_t)ic->x2apic | (uint64_t)ic->posted << 1);
        fp_add(&h, ic->n_fault_regs);
        fp_add(&h, ic->cache_entries);
    }
    return h;
}

/* ---- public entry points ---- */

static size_t sn_measure(intc_machine *m)
{
    sn c = {SN_SAVE, m, NULL, NULL, 0, 0, false, NULL};
    sn_walk(&c);
    return SN_HDR_SIZE + c.pos;
}

intc_err intc_machine_save(intc_machine *m, void *buf, size_t len,
                           size_t *used)
{
    size_t size;
    uint8_t *img = buf;

    if (!m)
        return INTC_ERR_INVAL;
    if (!intc_enter(m))
        return INTC_ERR_BUSY;
    /* Posted vectors become IRR bits (the image holds no PIR), as the
       APIC's next operation on its own thread would do anyway.  Nothing
       else changes: routing chains are always in canonical order (bus.c),
       so the machine that saved and every machine that loads the image
       continue alike. */
    for (uint32_t i = 0; i < m->n_cpus; i++)
        intc_lapic_sync_pir(&m->cpus[i], NULL);
    size = sn_measure(m);
    if (used)
        *used = size;
    if (!buf || len < size) {
        intc_leave(m);
        return INTC_ERR_NOSPC;
    }
    sn c = {SN_SAVE, m, img + SN_HDR_SIZE, NULL, 0, 0, false, NULL};
    sn_walk(&c);
    memcpy(img, "INTCSNAP", 8);
    put_le(img + 8, SN_VERSION, 4);
    put_le(img + 12, SN_HDR_SIZE, 4);
    put_le(img + 16, c.pos, 8);
    put_le(img + 28, sn_fingerprint(m), 8);
    put_le(img + SN_CRC_OFF, image_crc(img, size), 4);
    intc_leave(m);
    return INTC_OK;
}

/* Header and checksum; *payload_len on success. */
static intc_err sn_check_header(const intc_machine *m, const uint8_t *img,
                                size_t len, size_t *payload_len)
{
    uint64_t plen;

    /* The version comes right after the magic so that an image of
       another format version is named as such whatever its layout. */
    if (len < 12 || memcmp(img, "INTCSNAP", 8) != 0)
        return INTC_ERR_CORRUPT;
    if (get_le(img + 8, 4) != SN_VERSION)
        return INTC_ERR_VERSION;
    if (len < SN_HDR_SIZE || get_le(img + 12, 4) != SN_HDR_SIZE)
        return INTC_ERR_CORRUPT;
    plen = get_le(img + 16, 8);
    if (plen != len - SN_HDR_SIZE)
        return INTC_ERR_CORRUPT; /* truncated, or trailing bytes */
    if (get_le(img + SN_CRC_OFF, 4) != image_crc(img, len))
        return INTC_ERR_CORRUPT;
    if (get_le(img + 28, 8) != sn_fingerprint(m))
        return INTC_ERR_INVAL;
    *payload_len = (size_t)plen;
    return INTC_OK;
}

intc_err intc_machine_load(intc_machine *m, const void *buf, size_t len)
{
    const uint8_t *img = buf;
    size_t plen = 0;
    intc_err err;

    if (!m || (!buf && len))
        return INTC_ERR_INVAL;
    if (!intc_enter(m))
        return INTC_ERR_BUSY;
    err = buf ? sn_check_header(m, img, len, &plen) : INTC_ERR_CORRUPT;
    if (!err) {
        sn c = {SN_CHECK, m, NULL, img + SN_HDR_SIZE, 0, plen, false, NULL};
        sn_walk(&c);
        if (c.bad || c.pos != plen)
            err = INTC_ERR_CORRUPT;
    }
    if (err) {
        intc_leave(m);
        return err;
    }

    /* Validated: from here nothing can fail. */
    sn c = {SN_LOAD, m, NULL, img + SN_HDR_SIZE, 0, plen, false, NULL};
    sn_walk(&c);
    for (uint32_t i = 0; i < m->n_cpus; i++) {
        intc_lapic *l = &m->cpus[i];
        /* The image's state replaces any request posted before. */
        for (unsigned w = 0; w < 4; w++) {
            atomic_store(&l->pir[w], 0);
            atomic_store(&l->pir_level[w], 0);
        }
        atomic_store(&l->pir_on, 0);
        intc_lapic_rebuild_caches(l);
    }
    intc_bus_rebuild(m);
    for (uint32_t i = 0; i < m->n_cpus; i++) {
        intc_lapic *l = &m->cpus[i];
        intc_timer_arm(m, i, l->deadline);
        if (intc_lapic_pending(l))
            intc_kick(m, i);
        intc_base_changed(m, l); /* the page may move (common.h) */
    }
    /* Every IOAPIC's throttle timer, disarmed (UINT64_MAX) where the
       image has none, so a timer of the replaced state cannot fire. */
    for (uint32_t i = 0; i < m->n_ioapics; i++) {
        intc__ioapic_sync(&m->ioapics[i]);
        intc_ioapic_timer_arm(m, i, m->ioapics[i].timer_deadline);
    }
    if (m->iommu)
        intc__iommu_flush(m->iommu); /* the remap stage, as restored */
    intc_leave(m);
    return INTC_OK;
}
