/*
 * libintc — Intel VT-d interrupt remapping (VT-d spec ch. 5), its
 * registers (ch. 11), fault recording (ch. 7), the invalidation queue
 * (6.5.2) and posted interrupts (5.2, 9.11-9.12).
 */
#include "internal.h"
#include "snap_priv.h"

/* Capability values reported (VT-d 11.4.2-11.4.3). */
#define VTD_VERSION 0x10u
#define VTD_FRO 0x40ull /* fault recording registers at 0x400, in 16 B */
#define VTD_IRO 0x50ull /* IOTLB registers at 0x500 (not modelled) */
#define CAP_PI (1ull << 59)
#define ECAP_QI (1ull << 1)
#define ECAP_IR (1ull << 3)
#define ECAP_EIM (1ull << 4)

/* GSTS bits sit where their GCMD commands do. */
#define GSTS_TES (1u << 31)
#define GSTS_RTPS (1u << 30)
#define GSTS_QIES (1u << 26)
#define GSTS_IRES (1u << 25)
#define GSTS_IRTPS (1u << 24)
#define GSTS_CFIS (1u << 23)
#define GCMD_WBF (1u << 27)

/* FSTS (11.4.9). */
#define FSTS_PFO (1u << 0)
#define FSTS_PPF (1u << 1)
#define FSTS_AFO (1u << 2)
#define FSTS_APF (1u << 3)
#define FSTS_IQE (1u << 4)
#define FSTS_ICE (1u << 5)
#define FSTS_ITE (1u << 6)
#define FSTS_FRI_SHIFT 8
#define FSTS_RW1C (FSTS_PFO | FSTS_AFO | FSTS_APF | FSTS_IQE | FSTS_ICE | \
                   FSTS_ITE)
/* FECTL / IECTL. */
#define CTL_IM (1u << 31)
#define CTL_IP (1u << 30)
/* ICS. */
#define ICS_IWC 1u
/* Fault recording register, high qword. */
#define FRR_F (1ull << 63)
/* Stored bits of the writable registers (shared by the write path and
   the snapshot validator). */
#define RTADDR_MASK (~0x3ffull)
#define CCMD_ICC (1ull << 63)      /* completes at once: reads back 0 */
#define EVADDR_MASK 0xfffffffcull  /* FEADDR/IEADDR: MA, bits 31:2 */
#define IQ_PTR_MASK 0x7fff0ull     /* IQH/IQT: bits 18:4 */
#define IQA_MASK 0xfffffffffffff807ull /* IQA 63:12, DW 11, QS 2:0 */

/* IRTE (9.10, remapped; 9.11 posted). */
#define IRTE_P (1ull << 0)
#define IRTE_FPD (1ull << 1)
#define IRTE_IM (1ull << 15)
#define IRTE_URG (1ull << 14)

static inline struct intc_vtd *V(intc_iommu *u)
{
    return &u->vtd;
}

static uint64_t cap_value(const intc_iommu *u)
{
    return 2ull /* ND: 256 domains */ | 0x4ull << 8 /* SAGAW: 4-level */ |
           47ull << 16 /* MGAW: 48 bits */ | VTD_FRO << 24 |
           (uint64_t)(u->vtd.nfr - 1) << 40 | (u->cfg.posted ? CAP_PI : 0);
}

static uint64_t ecap_value(const intc_iommu *u)
{
    return ECAP_QI | ECAP_IR | (u->cfg.x2apic ? ECAP_EIM : 0) | VTD_IRO << 8;
}

static void vtd_reset(intc_iommu *u)
{
    struct intc_vtd *v = V(u);
    uint64_t *frr = v->frr;
    uint16_t nfr = v->nfr;
    memset(v, 0, sizeof(*v));
    v->frr = frr;
    v->nfr = nfr;
    memset(frr, 0, sizeof(uint64_t) * 2 * nfr);
    /* 11.4.10, 11.4.13: the event interrupts come up masked. */
    v->fectl = CTL_IM;
    v->iectl = CTL_IM;
}

static bool vtd_enabled(const intc_iommu *u)
{
    return u->vtd.gsts & GSTS_IRES;
}

/* ---- event interrupts (7.3, 6.5.2.11) ---- */

/* The event message goes out when the operation has returned (iommu.c
   decodes and sends it, not remapped: 5.1.6). */
static void send_event_msg(intc_iommu *u, uint32_t addr_lo, uint32_t addr_hi,
                           uint32_t data)
{
    intc__iommu_raise(u, addr_lo, addr_hi, data);
}

/*
 * A new interrupt condition (fault or invalidation completion).  VT-d
 * 7.3.1: if an earlier condition is still pending for software (pre
 * non-zero), no new event; else IP is set, and with IM clear the message
 * is sent and IP cleared.
 */
static void raise_event(intc_iommu *u, uint32_t *ctl, bool pre,
                        uint32_t addr_lo, uint32_t addr_hi, uint32_t data)
{
    if (pre)
        return;
    *ctl |= CTL_IP;
    if (!(*ctl & CTL_IM)) {
        send_event_msg(u, addr_lo, addr_hi, data);
        *ctl &= ~CTL_IP;
    }
}

static inline bool fault_pending(const struct intc_vtd *v)
{
    return v->fsts & (FSTS_PPF | FSTS_PFO | FSTS_IQE | FSTS_ICE | FSTS_ITE);
}

static void fault_event(intc_iommu *u, bool pre)
{
    struct intc_vtd *v = V(u);
    raise_event(u, &v->fectl, pre, v->feaddr, v->feuaddr, v->fedata);
}

static void update_ppf(struct intc_vtd *v)
{
    bool any = false;
    for (unsigned i = 0; i < v->nfr; i++)
        any |= (v->frr[2 * i + 1] & FRR_F) != 0;
    if (any)
        v->fsts |= FSTS_PPF;
    else
        v->fsts &= ~FSTS_PPF;
}

/*
 * Record an interrupt-remapping fault (7.1.3, 7.2.1).  qualified faults
 * are suppressed by the IRTE's FPD.  Faults are recorded round-robin in
 * the fault recording registers; one landing on a register whose F bit
 * software has not cleared yet sets PFO instead, and while PFO is set
 * nothing more is recorded.
 */
static void record_fault(intc_iommu *u, intc_irq *out, unsigned reason,
                         uint16_t sid, uint32_t index, bool suppressed)
{
    struct intc_vtd *v = V(u);
    bool recorded = false;
    bool pre = fault_pending(v);

    out->fault = reason;
    out->blocked = true;
    out->index = index;
    if (!suppressed && !(v->fsts & FSTS_PFO)) {
        uint64_t *r = &v->frr[2 * v->fri];
        if (r[1] & FRR_F) {
            v->fsts |= FSTS_PFO;
            fault_event(u, pre);
        } else {
            /* FI[63:48]: the interrupt index; T=0 (a write request). */
            r[0] = (uint64_t)(index & 0xffff) << 48;
            r[1] = FRR_F | (uint64_t)(reason & 0xff) << 32 | sid;
            if (!(v->fsts & FSTS_PPF))
                v->fsts = (v->fsts & ~(0xffu << FSTS_FRI_SHIFT)) |
                          (uint32_t)v->fri << FSTS_FRI_SHIFT;
            v->fsts |= FSTS_PPF;
            v->fri = (uint16_t)((v->fri + 1) % v->nfr);
            recorded = true;
            fault_event(u, pre);
        }
    }
    if (intc__tracing(u->m))
        intc__emit_unit(u->m, INTC_EV_IR_FAULT, INTC_NO_CPU, -1, 0, sid,
                       reason | (uint64_t)recorded << 8, index);
}

/* ---- remapping (5.1.4) ---- */

/* 9.10: SQ masks requester-id bits 2, 2:1 or 2:0 (function number);
   SVT 10b checks the bus against a [start, end] range. */
static bool source_ok(uint64_t hi, uint16_t sid)
{
    static const uint16_t sq_mask[4] = {0xffff, 0xfffb, 0xfff9, 0xfff8};
    unsigned svt = (unsigned)(hi >> 18) & 3, sq = (unsigned)(hi >> 16) & 3;
    uint16_t want = (uint16_t)hi;
    if (svt == 1)
        return (sid & sq_mask[sq]) == (want & sq_mask[sq]);
    if (svt == 2) {
        unsigned bus = sid >> 8;
        return bus >= (unsigned)(want >> 8) && bus <= (unsigned)(want & 0xff);
    }
    return true; /* 00b: no verification */
}

static bool irte_reserved(const intc_iommu *u, uint64_t lo, uint64_t hi,
                          bool eime)
{
    if (((hi >> 18) & 3) == 3) /* SVT 11b */
        return true;
    if (lo & IRTE_IM) {
        /* Posted format (9.11): bits 7:2, 13:12, 37:24 and 95:84. */
        if (!u->cfg.posted)
            return true;
        return (lo & 0x00000000000030fcull) || (lo & 0x0000003fff000000ull) ||
               (hi & 0x00000000fff00000ull);
    }
    /* Remapped format (9.10): bits 14:12, 31:24, 127:84; in xAPIC mode
       the destination is DST[15:8] and DST[7:0], DST[31:16] are
       reserved. */
    if ((lo & 0x0000000000007000ull) || (lo & 0x00000000ff000000ull) ||
        (hi >> 20))
        return true;
    if (!eime && (lo & 0xffff00ff00000000ull))
        return true;
    /* Delivery modes 011b and 110b are reserved. */
    unsigned dlm = (unsigned)(lo >> 5) & 7;
    return INTC_DM_RESERVED_SET >> dlm & 1;
}

/* Post to the descriptor (9.12) and notify (5.2.3). */
static void post(intc_iommu *u, uint16_t sid, uint32_t index, uint64_t lo,
                 uint64_t hi, bool eime, intc_irq *out)
{
    intc_machine *m = u->m;
    uint64_t pda = (hi & 0xffffffff00000000ull) | ((lo >> 38) << 6);
    uint8_t vv = (uint8_t)(lo >> 16);
    uint64_t pid[8];
    uint64_t ctl;
    bool notify;
    bool fpd = lo & IRTE_FPD;

    if (!intc__dma_read(m, pda, pid, sizeof(pid))) {
        record_fault(u, out, INTC_VTD_FR_PID_ACCESS, sid, index, fpd);
        return;
    }
    ctl = pid[4];
    /* Reserved: bits 271:258, 287:280, 511:320; in xAPIC mode the NDST
       bits other than 15:8. */
    if ((ctl & 0x00000000ff00fffcull) || pid[5] || pid[6] || pid[7] ||
        (!eime && (ctl & 0xffff00ff00000000ull))) {
        record_fault(u, out, INTC_VTD_FR_RESERVED_PID, sid, index, fpd);
        return;
    }
    pid[vv >> 6] |= 1ull << (vv & 63);
    /* Notify only when ON goes 0 -> 1, and not while suppressed unless
       the entry is urgent. */
    notify = !(ctl & 1) && ((lo & IRTE_URG) || !(ctl & 2));
    if (notify)
        pid[4] = ctl | 1;
    if (!intc__dma_write(m, pda + 8 * (vv >> 6), &pid[vv >> 6], 8) ||
        (notify && !intc__dma_write(m, pda + 32, &pid[4], 8))) {
        record_fault(u, out, INTC_VTD_FR_PID_ACCESS, sid, index, fpd);
        return;
    }
    out->posted = true;
    out->remapped = true;
    out->index = index;
    out->vector = vv;
    if (intc__tracing(m))
        intc__emit_unit(m, INTC_EV_IR_POSTED, INTC_NO_CPU, vv, 0, sid, pda,
                       notify);
    if (notify) {
        /* The notification event, built from the descriptor: NV, NDST
           (xAPIC mode: NDST[15:8]), physical, fixed, edge. */
        uint32_t ndst = (uint32_t)(ctl >> 32);
        intc_msg n = {
            .dest = eime ? ndst : (ndst >> 8) & 0xff,
            .src_cpu = INTC_NO_CPU,
            .vector = (uint8_t)(ctl >> 16),
            .dm = INTC_DM_FIXED,
            .assert = true,
            .x2apic_format = eime,
        };
        intc__iommu_raise_msg(u, &n);
    }
}

static void vtd_remap(intc_iommu *u, uint16_t sid, uint64_t addr,
                    uint32_t data, intc_irq *out)
{
    struct intc_vtd *v = V(u);
    uint64_t irta = v->irta_active;
    bool eime = u->cfg.x2apic && (irta & INTC_VTD_IRTA_EIME);
    uint64_t size = 2ull << (irta & 0xf);
    uint32_t index;
    uint64_t lo, hi;

    if (!(v->gsts & GSTS_IRES)) {
        /* Remapping disabled (engine path): compatibility requests pass
           as they are, remappable ones are not delivered; no fault. */
        if (addr & INTC_MSI_ADDR_REMAPPABLE)
            out->blocked = true;
        return;
    }
    if (!(addr & INTC_MSI_ADDR_REMAPPABLE)) {
        /* 5.1.4.1: compatibility format is blocked in x2APIC mode (EIME)
           and, otherwise, unless CFI is set. */
        if (eime || !(v->gsts & GSTS_CFIS)) {
            record_fault(u, out, INTC_VTD_FR_COMPAT_BLOCKED, sid, 0, false);
            return;
        }
        return; /* passed through as it is */
    }
    index = (uint32_t)((addr >> 5) & 0x7fff) | (uint32_t)((addr >> 2) & 1)
                                                   << 15;
    /* 5.1.2.2: with SHV the subhandle in data[15:0] is added; data bits
       31:16 and address bits 63:32 are reserved. */
    if ((addr >> 32) || ((addr & INTC_MSI_ADDR_RH) && (data >> 16))) {
        record_fault(u, out, INTC_VTD_FR_RESERVED_REQ, sid, index, false);
        return;
    }
    if (addr & INTC_MSI_ADDR_RH) /* bit 3 is SHV in this format */
        index += data & 0xffff;
    if (index >= size) {
        record_fault(u, out, INTC_VTD_FR_INDEX_RANGE, sid, index, false);
        return;
    }
    if (!intc__iec_lookup(u, index, &lo, &hi)) {
        uint64_t e[2];
        if (!intc__dma_read(u->m, (irta & ~0xfffull) + 16ull * index, e,
                           sizeof(e))) {
            record_fault(u, out, INTC_VTD_FR_TABLE_ACCESS, sid, index, false);
            return;
        }
        lo = e[0];
        hi = e[1];
        intc__iec_fill(u, index, lo, hi);
    }
    if (!(lo & IRTE_P)) {
        record_fault(u, out, INTC_VTD_FR_NOT_PRESENT, sid, index,
                     lo & IRTE_FPD);
        return;
    }
    if (irte_reserved(u, lo, hi, eime)) {
        record_fault(u, out, INTC_VTD_FR_RESERVED_IRTE, sid, index,
                     lo & IRTE_FPD);
        return;
    }
    if (!source_ok(hi, sid)) {
        record_fault(u, out, INTC_VTD_FR_SOURCE_ID, sid, index,
                     lo & IRTE_FPD);
        return;
    }
    if (lo & IRTE_IM) {
        post(u, sid, index, lo, hi, eime, out);
        return;
    }
    out->remapped = true;
    out->index = index;
    out->vector = (uint8_t)(lo >> 16);
    out->dm = (uint8_t)((lo >> 5) & 7);
    out->logical = (lo >> 2) & 1;
    out->rh = (lo >> 3) & 1;
    out->level = (lo >> 4) & 1;
    out->x2apic = eime;
    out->dest = eime ? (uint32_t)(lo >> 32) : (uint32_t)(lo >> 40) & 0xff;
}

static void vtd_set_table(intc_iommu *u, uint64_t irta, bool en, bool cfi)
{
    struct intc_vtd *v = V(u);
    v->irta = irta;
    v->irta_active = irta;
    v->gsts |= GSTS_IRTPS;
    v->gsts = en ? v->gsts | GSTS_IRES : v->gsts & ~GSTS_IRES;
    v->gsts = cfi ? v->gsts | GSTS_CFIS : v->gsts & ~GSTS_CFIS;
}

/* ---- invalidation queue (6.5.2) ---- */

static void queue_error(intc_iommu *u)
{
    struct intc_vtd *v = V(u);
    bool pre = fault_pending(v);
    v->fsts |= FSTS_IQE;
    fault_event(u, pre);
    if (intc__tracing(u->m))
        intc__emit_unit(u->m, INTC_EV_IR_QUEUE_ERROR, INTC_NO_CPU, -1, 0, 0,
                       v->iqh, v->iqt);
}

/* Process descriptors from IQH to IQT.  Bounded by the queue size. */
static void process_queue(intc_iommu *u)
{
    struct intc_vtd *v = V(u);
    bool wide = v->iqa & (1ull << 11); /* DW: 256-bit descriptors */
    unsigned dsz = wide ? 32 : 16;
    uint64_t qlen = (4096ull << (v->iqa & 7)) / dsz;
    uint64_t base = v->iqa & ~0xfffull;
    uint64_t head = (v->iqh >> 4) / (dsz / 16);
    uint64_t tail = (v->iqt >> 4) / (dsz / 16);

    if (!(v->gsts & GSTS_QIES) || (v->fsts & FSTS_IQE))
        return;
    if (tail >= qlen || (wide && (v->iqt & 0x10))) {
        queue_error(u);
        return;
    }
    while (head != tail) {
        uint64_t d[4] = {0, 0, 0, 0};
        unsigned type;
        if (!intc__dma_read(u->m, base + head * dsz, d, dsz)) {
            queue_error(u);
            break;
        }
        type = (unsigned)(d[0] & 0xf) | (unsigned)((d[0] >> 9) & 7) << 4;
        if (type == 4) {
            /* IEC invalidate (6.5.2.7): G bit 4, IM 31:27, IIDX 47:32;
               bits 8:5, 26:12, 63:48 and the high qword reserved. */
            unsigned im = (unsigned)(d[0] >> 27) & 0x1f;
            if ((d[0] & 0xffff000007fff1e0ull) || d[1]) {
                queue_error(u);
                break;
            }
            if (!(d[0] & 0x10)) {
                intc__iec_drop(u, 0, UINT64_MAX);
            } else {
                uint64_t cnt = im >= 16 ? 0x10000ull : 1ull << im;
                uint64_t idx = (d[0] >> 32) & 0xffff;
                intc__iec_drop(u, idx & ~(cnt - 1), cnt);
            }
            if (intc__tracing(u->m))
                intc__emit_unit(u->m, INTC_EV_IR_INVALIDATE, INTC_NO_CPU, -1,
                               0, 0, (d[0] >> 32) & 0xffff,
                               (d[0] & 0x10) ? im : INTC_IOMMU_INV_ALL);
        } else if (type == 5) {
            /* Invalidation wait (6.5.2.8): SW writes status data, IF
               sets ICS.IWC and raises the completion event. */
            if (d[0] & (1ull << 5)) {
                uint32_t status = (uint32_t)(d[0] >> 32);
                if (!intc__dma_write(u->m, d[1] & ~3ull, &status, 4)) {
                    queue_error(u);
                    break;
                }
            }
            if (d[0] & (1ull << 4)) {
                bool pre = v->ics & ICS_IWC;
                v->ics |= ICS_IWC;
                raise_event(u, &v->iectl, pre, v->ieaddr, v->ieuaddr,
                            v->iedata);
            }
        } else if (type >= 1 && type <= 7) {
            /* Context-cache, IOTLB, device-TLB and PASID invalidations:
               DMA remapping is not modelled; they complete at once. */
        } else {
            queue_error(u);
            break;
        }
        head = (head + 1) % qlen;
        v->iqh = head * dsz;
    }
}

/* ---- GCMD (11.4.4) ---- */

static void gcmd(intc_iommu *u, uint32_t val)
{
    struct intc_vtd *v = V(u);
    if (val & INTC_VTD_GCMD_SIRTP) {
        /* Latch the table pointer.  The entry cache is not flushed:
           software must invalidate it afterwards (6.5.2.7). */
        v->irta_active = v->irta;
        v->gsts |= GSTS_IRTPS;
    }
    if (val & INTC_VTD_GCMD_SRTP)
        v->gsts |= GSTS_RTPS;
    /* WBF completes at once (WBFS stays 0). */
    (void)GCMD_WBF;
    v->gsts = (val & INTC_VTD_GCMD_TE) ? v->gsts | GSTS_TES
                                       : v->gsts & ~GSTS_TES;
    if ((val & INTC_VTD_GCMD_QIE) && !(v->gsts & GSTS_QIES)) {
        v->iqh = 0; /* 6.5.2: head is reset when the queue is enabled */
        v->gsts |= GSTS_QIES;
    } else if (!(val & INTC_VTD_GCMD_QIE)) {
        v->gsts &= ~GSTS_QIES;
        v->iqh = 0; /* IQH reads 0 while the queue is off */
    }
    v->gsts = (val & INTC_VTD_GCMD_IRE) ? v->gsts | GSTS_IRES
                                        : v->gsts & ~GSTS_IRES;
    v->gsts = (val & INTC_VTD_GCMD_CFI) ? v->gsts | GSTS_CFIS
                                        : v->gsts & ~GSTS_CFIS;
    if (intc__tracing(u->m))
        intc__emit_unit(u->m, INTC_EV_IR_STATUS, INTC_NO_CPU, -1, 0,
                       INTC_VTD_GCMD, v->gsts, val);
}

/* ---- registers ---- */

/* The 64-bit register at aligned offset off (a 32-bit register pair is
   composed), or false if nothing is there. */
static bool vtd_reg_get(intc_iommu *u, uint32_t off, uint64_t *val)
{
    struct intc_vtd *v = V(u);
    if (off >= INTC_VTD_FRR && off < INTC_VTD_FRR + 16u * v->nfr) {
        *val = v->frr[(off - INTC_VTD_FRR) / 8];
        return true;
    }
    switch (off) {
    case INTC_VTD_VER:
        *val = VTD_VERSION;
        return true;
    case INTC_VTD_CAP:
        *val = cap_value(u);
        return true;
    case INTC_VTD_ECAP:
        *val = ecap_value(u);
        return true;
    case INTC_VTD_GCMD: /* GCMD reads 0 | GSTS */
        *val = (uint64_t)v->gsts << 32;
        return true;
    case INTC_VTD_RTADDR:
        *val = v->rtaddr;
        return true;
    case INTC_VTD_CCMD:
        *val = v->ccmd;
        return true;
    case 0x30: /* reserved | FSTS */
        *val = (uint64_t)v->fsts << 32;
        return true;
    case INTC_VTD_FECTL: /* FECTL | FEDATA */
        *val = v->fectl | (uint64_t)v->fedata << 32;
        return true;
    case INTC_VTD_FEADDR:
        *val = v->feaddr | (uint64_t)v->feuaddr << 32;
        return true;
    case INTC_VTD_IQH:
        *val = v->iqh;
        return true;
    case INTC_VTD_IQT:
        *val = v->iqt;
        return true;
    case INTC_VTD_IQA:
        *val = v->iqa;
        return true;
    case 0x98: /* reserved | ICS */
        *val = (uint64_t)v->ics << 32;
        return true;
    case INTC_VTD_IECTL:
        *val = v->iectl | (uint64_t)v->iedata << 32;
        return true;
    case INTC_VTD_IEADDR:
        *val = v->ieaddr | (uint64_t)v->ieuaddr << 32;
        return true;
    case INTC_VTD_IRTA:
        *val = v->irta;
        return true;
    default:
        return false;
    }
}

/* Apply a write of the dword at off (4-aligned). */
static void write32(intc_iommu *u, uint32_t off, uint32_t val)
{
    struct intc_vtd *v = V(u);
    uint32_t hiword = off & 4;

    if (off >= INTC_VTD_FRR && off < INTC_VTD_FRR + 16u * v->nfr) {
        /* Only F (bit 127) is writable: write 1 to clear. */
        uint32_t q = (off - INTC_VTD_FRR) / 8;
        if ((q & 1) && hiword && (val & 0x80000000u)) {
            v->frr[q] &= ~FRR_F;
            update_ppf(v);
            if (!fault_pending(v))
                v->fectl &= ~CTL_IP;
        }
        return;
    }
    switch (off) {
    case INTC_VTD_GCMD:
        gcmd(u, val);
        break;
    case INTC_VTD_RTADDR:
    case INTC_VTD_RTADDR + 4:
        v->rtaddr = hiword ? (v->rtaddr & 0xffffffffull) | (uint64_t)val << 32
                           : (v->rtaddr & ~0xffffffffull) |
                                 (val & (uint32_t)RTADDR_MASK);
        break;
    case INTC_VTD_CCMD:
    case INTC_VTD_CCMD + 4:
        /* Register-based context invalidation completes at once (ICC,
           bit 63, reads back 0). */
        v->ccmd = hiword ? (v->ccmd & 0xffffffffull) |
                               ((uint64_t)val << 32 & ~CCMD_ICC)
                         : (v->ccmd & ~0xffffffffull) | val;
        break;
    case INTC_VTD_FSTS:
        v->fsts &= ~(val & FSTS_RW1C);
        if (!fault_pending(v))
            v->fectl &= ~CTL_IP; /* all conditions serviced */
        break;
    case INTC_VTD_FECTL:
        v->fectl = (v->fectl & ~CTL_IM) | (val & CTL_IM);
        if (!(v->fectl & CTL_IM) && (v->fectl & CTL_IP)) {
            send_event_msg(u, v->feaddr, v->feuaddr, v->fedata);
            v->fectl &= ~CTL_IP;
        }
        break;
    case INTC_VTD_FEDATA:
        v->fedata = val;
        break;
    case INTC_VTD_FEADDR:
        v->feaddr = val & (uint32_t)EVADDR_MASK;
        break;
    case INTC_VTD_FEUADDR:
        v->feuaddr = val;
        break;
    case INTC_VTD_IQT:
        /* QT, bits 18:4; writing the tail makes hardware fetch. */
        v->iqt = val & IQ_PTR_MASK;
        process_queue(u);
        break;
    case INTC_VTD_IQA:
    case INTC_VTD_IQA + 4:
        v->iqa = hiword ? (v->iqa & 0xffffffffull) | (uint64_t)val << 32
                        : (v->iqa & ~0xffffffffull) |
                              (val & (uint32_t)IQA_MASK);
        /* 11.4.21: writing IQA resets head and tail. */
        v->iqh = 0;
        v->iqt = 0;
        break;
    case INTC_VTD_ICS:
        v->ics &= ~(val & ICS_IWC);
        if (!(v->ics & ICS_IWC))
            v->iectl &= ~CTL_IP;
        break;
    case INTC_VTD_IECTL:
        v->iectl = (v->iectl & ~CTL_IM) | (val & CTL_IM);
        if (!(v->iectl & CTL_IM) && (v->iectl & CTL_IP)) {
            send_event_msg(u, v->ieaddr, v->ieuaddr, v->iedata);
            v->iectl &= ~CTL_IP;
        }
        break;
    case INTC_VTD_IEDATA:
        v->iedata = val;
        break;
    case INTC_VTD_IEADDR:
        v->ieaddr = val & (uint32_t)EVADDR_MASK;
        break;
    case INTC_VTD_IEUADDR:
        v->ieuaddr = val;
        break;
    case INTC_VTD_IRTA:
    case INTC_VTD_IRTA + 4: {
        /* IRTA: bits 63:12 address, 11 EIME (only with EIM), 3:0 S. */
        uint64_t keep = u->cfg.x2apic ? 0xfffff80full : 0xfffff00full;
        v->irta = hiword ? (v->irta & 0xffffffffull) | (uint64_t)val << 32
                         : (v->irta & ~0xffffffffull) | (val & keep);
        break;
    }
    default:
        break; /* read-only or not modelled */
    }
}

static intc_err vtd_mmio_write(intc_iommu *u, uint32_t off, unsigned size,
                             uint64_t val)
{
    if (size == 8) {
        /* A 64-bit write is its two halves, high first for IQT so the
           tail is complete when the low half triggers the fetch. */
        write32(u, off + 4, (uint32_t)(val >> 32));
        write32(u, off, (uint32_t)val);
    } else {
        write32(u, off, (uint32_t)val);
    }
    return INTC_OK;
}

/* ---- snapshot section ---- */

/* Stored bits of the register at off, for snapshot validation: what
   write32() and the hardware-side updates can leave there (keep in step
   with them).  For FRR offsets, the low or high qword of a record. */
static uint64_t snap_reg_mask(uint32_t off)
{
    if (off >= INTC_VTD_FRR)
        return (off & 8) ? FRR_F | 0xffull << 32 | 0xffffull /* F, FR, SID */
                         : 0xffffull << 48;                  /* FI */
    switch (off) {
    case INTC_VTD_GSTS:
        return GSTS_TES | GSTS_RTPS | GSTS_QIES | GSTS_IRES | GSTS_IRTPS |
               GSTS_CFIS;
    case INTC_VTD_RTADDR:
        return RTADDR_MASK;
    case INTC_VTD_CCMD:
        return ~CCMD_ICC;
    case INTC_VTD_FSTS:
        return FSTS_RW1C | FSTS_PPF | 0xffu << FSTS_FRI_SHIFT;
    case INTC_VTD_FECTL:
    case INTC_VTD_IECTL:
        return CTL_IM | CTL_IP;
    case INTC_VTD_FEADDR:
    case INTC_VTD_IEADDR:
        return EVADDR_MASK;
    case INTC_VTD_IQH:
    case INTC_VTD_IQT:
        return IQ_PTR_MASK;
    case INTC_VTD_IQA:
        return IQA_MASK;
    case INTC_VTD_ICS:
        return ICS_IWC;
    default: /* data and upper address registers; IRTA (the engine call
                intc_iommu_set_table() stores any value) */
        return UINT64_MAX;
    }
}

/* ---- the remap stage's table (iommu_priv.h) ---- */

static void vtd_invalidate(intc_iommu *u, uint32_t index, unsigned index_mask)
{
    /* 6.5.2.7: index_mask is the IM field, 2^IM entries from an aligned
       index. */
    uint64_t count = index_mask >= 16 ? 0x10000ull : 1ull << index_mask;
    intc__iec_drop(u, index & ~(count - 1), count);
}

const struct intc_iommu_ops intc__vtd_ops = {
    .mmio_span = 0x1000,
    .reset = vtd_reset,
    .enabled = vtd_enabled,
    .reg_get = vtd_reg_get,
    .mmio_write = vtd_mmio_write,
    .remap = vtd_remap,
    .set_table = vtd_set_table,
    .invalidate = vtd_invalidate,
};

#define SNAP_VTD(c, mode, v, field, off)                                    \
    INTC__SNAP(c, mode, (v)->field, snap_reg_mask(off), #field, -1)

INTC__SNAP_INLINE void vtd_snap(intc__snap *c, const int mode, intc_iommu *u)
{
    struct intc_vtd *v = &u->vtd;
    bool any_f = false;

    intc__snap_begin(c, mode, "vtd", -1);
    SNAP_VTD(c, mode, v, gsts, INTC_VTD_GSTS);
    SNAP_VTD(c, mode, v, rtaddr, INTC_VTD_RTADDR);
    SNAP_VTD(c, mode, v, ccmd, INTC_VTD_CCMD);
    INTC__SNAP_VAR(c, mode, fsts, v->fsts, snap_reg_mask(INTC_VTD_FSTS),
                   "fsts", -1);
    SNAP_VTD(c, mode, v, fectl, INTC_VTD_FECTL);
    SNAP_VTD(c, mode, v, fedata, INTC_VTD_FEDATA);
    SNAP_VTD(c, mode, v, feaddr, INTC_VTD_FEADDR);
    SNAP_VTD(c, mode, v, feuaddr, INTC_VTD_FEUADDR);
    SNAP_VTD(c, mode, v, iqh, INTC_VTD_IQH);
    SNAP_VTD(c, mode, v, iqt, INTC_VTD_IQT);
    SNAP_VTD(c, mode, v, iqa, INTC_VTD_IQA);
    SNAP_VTD(c, mode, v, ics, INTC_VTD_ICS);
    SNAP_VTD(c, mode, v, iectl, INTC_VTD_IECTL);
    SNAP_VTD(c, mode, v, iedata, INTC_VTD_IEDATA);
    SNAP_VTD(c, mode, v, ieaddr, INTC_VTD_IEADDR);
    SNAP_VTD(c, mode, v, ieuaddr, INTC_VTD_IEUADDR);
    SNAP_VTD(c, mode, v, irta, INTC_VTD_IRTA);
    SNAP_VTD(c, mode, v, irta_active, INTC_VTD_IRTA);
    /* Fault recording registers: qword 2k is record k's low half (FI),
       2k+1 its high half (F, FR, SID). */
    for (uint32_t i = 0; i < 2u * v->nfr; i++) {
        INTC__SNAP_VAR(c, mode, r, v->frr[i],
                       snap_reg_mask(INTC_VTD_FRR + 8 * i), "frr",
                       (int32_t)i);
        if (i & 1)
            any_f |= (r >> 63) != 0;
    }
    INTC__SNAP_VAR(c, mode, fri, v->fri, 0xffff, "fri", -1);
    /* 7.3.1: FRI names a register that exists, PPF says whether any
       record has its F bit. */
    INTC__SNAP_REQ(c, mode, fri < v->nfr, "fri", -1,
                   "beyond the fault recording registers");
    INTC__SNAP_REQ(c, mode, ((fsts >> 8) & 0xff) < v->nfr, "fsts", -1,
                   "FRI beyond the fault recording registers");
    INTC__SNAP_REQ(c, mode, !!(fsts & 2) == any_f, "fsts", -1,
                   "PPF out of step with the records' F bits");
    /* Derived: the pipeline's remap stage follows the enable bit. */
    if (mode == INTC__SNAP_LOAD)
        intc__iommu_sync(u);
}

/* The VT-d registers' section of the image (after the entry cache,
   iommu.c).  LOAD installs or removes the remap stage. */
void intc__vtd_snap(intc__snap *c, intc_iommu *u)
{
    INTC__SNAP_DISPATCH(c, vtd_snap, u);
}
