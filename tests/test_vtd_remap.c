/*
 * VT-d interrupt remapping, the message side: IRTE decode and remapped
 * delivery (VT-d spec 5.1, 9.10), source-id validation (9.10 SVT/SQ),
 * compatibility format (5.1.2.1), posted interrupts (5.2, 9.11, 9.12),
 * the security property of remapping, end-to-end flows from MSI-X and
 * IOAPIC remappable entries (5.1.5.1) to the Local APIC and back, and
 * the engine API.
 *
 * Authority: Intel VT-d Architecture Specification ("VT-d x.y"), Intel
 * SDM vol. 3A ch. 11 for the Local APIC side ("SDM x.y"), and the
 * documented libintc choices (include/intc/iommu.h, issue-4 brief).
 */
#include "ioapic_util.h"
#include "vtd_util.h"

#define SID_DEV 0x0100u   /* 01:00.0 */
#define SID_EVIL 0x0666u  /* 06:0c.6 */
#define X2ID 0x12345u     /* a large x2APIC ID */

/* Delivery modes (VT-d 9.10 DLM, SDM 11.6.1). */
enum { DLM_FIXED = 0, DLM_LOWEST = 1, DLM_SMI = 2, DLM_NMI = 4,
       DLM_INIT = 5, DLM_EXTINT = 7 };

/* 2 CPUs (IDs 0, 1), xAPIC, IR on with IRT_A of 256 entries. */
static void xenv(vt_env *e, void **state, uint32_t n_cpus)
{
    intc_machine_config cfg;
    vt_cfg(&cfg, n_cpus);
    env_start(e, state, &cfg);
    ir_enable(e->u, IRT_A, 7, false, false);
}

/* CPUs with IDs {0, 1, X2ID, 0x300}, all in x2APIC mode, IR on with
   EIME=1 (x2APIC interrupt mode). */
static const uint32_t x2ids[4] = {0, 1, X2ID, 0x300};
static void x2env(vt_env *e, void **state, bool cfi)
{
    intc_machine_config cfg;
    vt_cfg(&cfg, 4);
    cfg.apic_ids = x2ids;
    env_start(e, state, &cfg);
    x2_enable_all(e->m);
    ir_enable(e->u, IRT_A, 7, true, cfi);
}

static void assert_fault(vt_env *e, unsigned reason, bool recorded)
{
    TH_IF_TRACED(e->h) {
        const intc_event *ev = th_last_event(e->h, INTC_EV_IR_FAULT);
        assert_non_null(ev);
        assert_int_equal(ev->data, reason | (recorded ? 1u << 8 : 0));
    }
}

/* ================================================================== */
/* Remapped delivery (VT-d 5.1.4, 9.10)                                */
/* ================================================================== */

/* VT-d 9.10: in xAPIC mode (EIME=0) the destination is DST[15:8]; the
   vector, mode and destination come from the IRTE, not the request
   (whose address bits only carry the handle). */
static void test_remap_xapic_fixed_physical(void **state)
{
    vt_env e;
    xenv(&e, state, 2);
    irte_put(e.h, IRT_A, 9, irte_lo(0x41, IRTE_XDST(1)), 0);
    th_clear_events(e.h);
    send(&e, rmsi(9, false), 0x77, SID_DEV);
    assert_true(irr(cpu(e.m, 1), 0x41));
    assert_false(irr(cpu(e.m, 0), 0x41));
    assert_false(irr(cpu(e.m, 1), 0x77));
    assert_false(tmr(cpu(e.m, 1), 0x41));
    TH_IF_TRACED(e.h) {
        const intc_event *ev = th_last_event(e.h, INTC_EV_IR_REMAPPED);
        assert_non_null(ev);
        assert_int_equal(ev->vector, 0x41);
        assert_int_equal(ev->pin, SID_DEV);
        assert_int_equal(ev->data, 9);
        assert_int_equal(ev->data2, 1ull << 32 | 1);
    }
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    /* 0xFF in DST[15:8] is the xAPIC broadcast. */
    irte_put(e.h, IRT_A, 10, irte_lo(0x42, IRTE_XDST(0xff)), 0);
    send(&e, rmsi(10, false), 0, SID_DEV);
    assert_true(irr(cpu(e.m, 0), 0x42));
    assert_true(irr(cpu(e.m, 1), 0x42));
    env_end(&e);
}

/* VT-d 9.10: with EIME=1 DST is a 32-bit x2APIC ID, so a CPU with a
   large x2APIC ID is reachable. */
static void test_remap_x2apic_large_id(void **state)
{
    vt_env e;
    x2env(&e, state, false);
    irte_put(e.h, IRT_A, 3, irte_lo(0x45, IRTE_DST(X2ID)), 0);
    send(&e, rmsi(3, false), 0, SID_DEV);
    assert_true(irr(cpu(e.m, 2), 0x45));
    for (uint32_t c = 0; c < 4; c++)
        if (c != 2)
            assert_false(irr(cpu(e.m, c), 0x45));
    /* Only the low byte of X2ID, as an xAPIC-style destination, would be
       0x45: nothing there. 0xFFFFFFFF is the x2APIC broadcast. */
    irte_put(e.h, IRT_A, 4, irte_lo(0x46, IRTE_DST(0xffffffffu)), 0);
    send(&e, rmsi(4, false), 0, SID_DEV);
    for (uint32_t c = 0; c < 4; c++)
        assert_true(irr(cpu(e.m, c), 0x46));
    env_end(&e);
}

/* VT-d 9.10 DLM / SDM 11.6.1: fixed, lowest priority, SMI, NMI, INIT and
   ExtINT are delivered as the IRTE says. */
static void test_remap_every_delivery_mode(void **state)
{
    vt_env e;
    xenv(&e, state, 2);
    intc_lapic *l1 = cpu(e.m, 1);
    irte_put(e.h, IRT_A, 1, irte_lo(0x50, IRTE_XDST(1)) |
                                 IRTE_DLM(DLM_FIXED), 0);
    irte_put(e.h, IRT_A, 2, irte_lo(0x51, IRTE_XDST(1)) |
                                 IRTE_DLM(DLM_LOWEST), 0);
    irte_put(e.h, IRT_A, 3, irte_lo(0, IRTE_XDST(1)) | IRTE_DLM(DLM_SMI),
             0);
    irte_put(e.h, IRT_A, 4, irte_lo(0, IRTE_XDST(1)) | IRTE_DLM(DLM_NMI),
             0);
    irte_put(e.h, IRT_A, 5, irte_lo(0, IRTE_XDST(1)) | IRTE_DLM(DLM_INIT),
             0);
    irte_put(e.h, IRT_A, 6, irte_lo(0, IRTE_XDST(1)) |
                                 IRTE_DLM(DLM_EXTINT), 0);
    send(&e, rmsi(1, false), 0, SID_DEV);
    assert_true(irr(l1, 0x50));
    send(&e, rmsi(2, false), 0, SID_DEV);
    assert_true(irr(l1, 0x51));
    send(&e, rmsi(3, false), 0, SID_DEV);
    assert_true(intc_lapic_pending(l1) & INTC_PEND_SMI);
    send(&e, rmsi(4, false), 0, SID_DEV);
    assert_true(intc_lapic_pending(l1) & INTC_PEND_NMI);
    send(&e, rmsi(6, false), 0, SID_DEV);
    assert_true(intc_lapic_pending(l1) & INTC_PEND_EXTINT);
    send(&e, rmsi(5, false), 0, SID_DEV);
    assert_true(intc_lapic_pending(l1) & INTC_PEND_INIT);
    assert_int_equal(intc_lapic_pending(cpu(e.m, 0)), 0);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    env_end(&e);
}

/* VT-d 9.10 DM=1 / SDM 11.6.2.2: logical destination, xAPIC flat model
   (DST[15:8] is the logical mask). */
static void test_remap_logical_xapic_flat(void **state)
{
    vt_env e;
    xenv(&e, state, 3);
    for (uint32_t c = 0; c < 3; c++)
        lw(cpu(e.m, c), INTC_LAPIC_LDR, (1u << c) << 24);
    irte_put(e.h, IRT_A, 1,
             irte_lo(0x52, IRTE_XDST(0x06)) | IRTE_DM_LOGICAL, 0);
    send(&e, rmsi(1, false), 0, SID_DEV);
    assert_false(irr(cpu(e.m, 0), 0x52));
    assert_true(irr(cpu(e.m, 1), 0x52));
    assert_true(irr(cpu(e.m, 2), 0x52));
    env_end(&e);
}

/* VT-d 9.10 DM=1 with EIME / SDM 11.12.10.2: x2APIC cluster logical
   destination (cluster in 31:16, member bit in 15:0). */
static void test_remap_logical_x2apic_cluster(void **state)
{
    vt_env e;
    x2env(&e, state, false);
    /* ID 0x300: cluster 0x30, member bit 0. */
    irte_put(e.h, IRT_A, 1,
             irte_lo(0x53, IRTE_DST(0x00300001u)) | IRTE_DM_LOGICAL, 0);
    send(&e, rmsi(1, false), 0, SID_DEV);
    assert_true(irr(cpu(e.m, 3), 0x53));
    for (uint32_t c = 0; c < 3; c++)
        assert_false(irr(cpu(e.m, c), 0x53));
    /* Cluster 0, members 0 and 1. */
    irte_put(e.h, IRT_A, 2,
             irte_lo(0x54, IRTE_DST(0x00000003u)) | IRTE_DM_LOGICAL, 0);
    send(&e, rmsi(2, false), 0, SID_DEV);
    assert_true(irr(cpu(e.m, 0), 0x54));
    assert_true(irr(cpu(e.m, 1), 0x54));
    assert_false(irr(cpu(e.m, 2), 0x54));
    env_end(&e);
}

/* VT-d 9.10 RH=1 / SDM 11.6.2.4: a fixed entry with the redirection hint
   goes to one processor, the lowest-priority one of the destinations. */
static void test_remap_rh_lowest_priority(void **state)
{
    vt_env e;
    xenv(&e, state, 3);
    static const uint8_t tpr[3] = {0x20, 0x10, 0x30};
    for (uint32_t c = 0; c < 3; c++) {
        lw(cpu(e.m, c), INTC_LAPIC_LDR, (1u << c) << 24);
        lw(cpu(e.m, c), INTC_LAPIC_TPR, tpr[c]);
    }
    irte_put(e.h, IRT_A, 1,
             irte_lo(0x90, IRTE_XDST(0x07)) | IRTE_DM_LOGICAL | IRTE_RH, 0);
    send(&e, rmsi(1, false), 0, SID_DEV);
    assert_false(irr(cpu(e.m, 0), 0x90));
    assert_true(irr(cpu(e.m, 1), 0x90));
    assert_false(irr(cpu(e.m, 2), 0x90));
    th_assert_event_count(e.h, INTC_EV_IRR_SET, 1);
    env_end(&e);
}

/* VT-d 9.10 TM=1 / SDM 11.8.4, 11.8.5: a level entry sets TMR, and its
   EOI is broadcast. */
static void test_remap_level_sets_tmr_and_broadcasts_eoi(void **state)
{
    vt_env e;
    xenv(&e, state, 2);
    irte_put(e.h, IRT_A, 1, irte_lo(0x66, IRTE_XDST(0)) | IRTE_TM_LEVEL,
             0);
    send(&e, rmsi(1, false), 0, SID_DEV);
    intc_lapic *l = cpu(e.m, 0);
    assert_true(irr(l, 0x66));
    assert_true(tmr(l, 0x66));
    assert_int_equal(intc_lapic_ack(l), 0x66);
    th_clear_events(e.h);
    eoi(l);
    th_assert_event(e.h, INTC_EV_EOI_BROADCAST, 0, 0x66);
    assert_false(isr(l, 0x66));
    env_end(&e);
}

/* VT-d 5.1.2.2, 5.1.4.1: with SHV=1 the index is handle + data[15:0];
   with SHV=0 data is not used. */
static void test_remap_shv_subhandle(void **state)
{
    vt_env e;
    xenv(&e, state, 2);
    irte_put(e.h, IRT_A, 0x10, irte_lo(0x70, IRTE_XDST(0)), 0);
    irte_put(e.h, IRT_A, 0x13, irte_lo(0x73, IRTE_XDST(0)), 0);
    assert_int_equal(remapped_vec(&e, rmsi(0x10, true), 3, SID_DEV), 0x73);
    th_assert_last_event(e.h, INTC_EV_IR_REMAPPED, data, 0x13);
    assert_int_equal(remapped_vec(&e, rmsi(0x10, false), 3, SID_DEV),
                     0x70);
    /* Brief: data[31:16] matters only with SHV. */
    assert_int_equal(remapped_vec(&e, rmsi(0x10, false), 0x12340000u,
                                  SID_DEV),
                     0x70);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    env_end(&e);
}

/* VT-d 5.1.2.2: handle bit 15 comes from address bit 2. */
static void test_remap_handle_bit15(void **state)
{
    vt_env e;
    intc_machine_config cfg;
    vt_cfg(&cfg, 2);
    env_start(&e, state, &cfg);
    ir_enable(e.u, IRT_A, 15, false, false); /* 65536 entries */
    irte_put(e.h, IRT_A, 5, irte_lo(0x75, IRTE_XDST(0)), 0);
    irte_put(e.h, IRT_A, 0x8005, irte_lo(0x85, IRTE_XDST(1)), 0);
    assert_int_equal(remapped_vec(&e, rmsi(0x8005, false), 0, SID_DEV),
                     0x85);
    th_assert_last_event(e.h, INTC_EV_IR_REMAPPED, data, 0x8005);
    assert_true(irr(cpu(e.m, 1), 0x85));
    assert_int_equal(remapped_vec(&e, rmsi(5, false), 0, SID_DEV), 0x75);
    /* With a 256-entry table, index 0x8005 is out of range (21h). */
    w64(e.u, INTC_VTD_IRTA, IRT_A | 7);
    w32(e.u, INTC_VTD_GCMD, INTC_VTD_GCMD_IRE | INTC_VTD_GCMD_SIRTP);
    assert_int_equal(intc_iommu_invalidate(e.u, INTC_IOMMU_INV_ALL, 0),
                     INTC_OK);
    send(&e, rmsi(0x8005, false), 0, SID_DEV);
    assert_fault(&e, INTC_VTD_FR_INDEX_RANGE, true);
    assert_int_equal(FRR_FI(frr_lo(e.u, 0)), 0x8005);
    env_end(&e);
}

/* VT-d 9.10 / brief: every reserved field of a remapped-format IRTE is
   fault 24h and blocks the interrupt: bits 14:12, 31:24, 127:84, in
   xAPIC mode DST bits 39:32 and 63:48, DLM 011b/110b, SVT 11b. */
static void test_irte_reserved_fields_fault_24(void **state)
{
    static const struct {
        uint64_t lo, hi;
    } rsv[] = {
        {1ull << 12, 0}, {1ull << 13, 0}, {1ull << 14, 0},
        {1ull << 24, 0}, {1ull << 31, 0}, {0, 1ull << 20},
        {0, 1ull << 31}, {0, 1ull << 63}, {1ull << 32, 0},
        {1ull << 39, 0}, {1ull << 48, 0}, {1ull << 63, 0},
        {IRTE_DLM(3), 0}, {IRTE_DLM(6), 0}, {0, IRTE_SVT(3)},
    };
    vt_env e;
    xenv(&e, state, 2);
    for (unsigned i = 0; i < sizeof(rsv) / sizeof(rsv[0]); i++) {
        uint32_t idx = 0x20 + i;
        irte_put(e.h, IRT_A, idx, irte_lo(0x44, IRTE_XDST(0)) | rsv[i].lo,
                 rsv[i].hi);
        send(&e, rmsi(idx, false), 0, SID_DEV);
        TH_IF_TRACED(e.h) {
            const intc_event *ev = th_last_event(e.h, INTC_EV_IR_FAULT);
            assert_non_null(ev);
            if (ev->data2 != idx || (ev->data & 0xff) != 0x24)
                fail_msg("case %u: fault %#llx at %llu", i,
                         (unsigned long long)ev->data,
                         (unsigned long long)ev->data2);
        }
    }
    th_assert_event_count(e.h, INTC_EV_IRR_SET, 0);
    assert_no_irr(e.m);
    env_end(&e);
}

/* VT-d 9.10: in x2APIC mode (EIME=1) all 32 DST bits are the
   destination; none of them is reserved. */
static void test_irte_dst_high_bits_not_reserved_in_x2apic_mode(void **state)
{
    vt_env e;
    x2env(&e, state, false);
    irte_put(e.h, IRT_A, 1, irte_lo(0x47, IRTE_DST(0x00ff0000u)), 0);
    send(&e, rmsi(1, false), 0, SID_DEV);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    th_assert_event_count(e.h, INTC_EV_IR_FAULT, 0);
    th_assert_event(e.h, INTC_EV_IR_REMAPPED, TH_ANY_CPU, TH_ANY_VECTOR);
    env_end(&e);
}

/* ================================================================== */
/* Source validation (VT-d 9.10 SVT, SQ, SID)                          */
/* ================================================================== */

/* Send from sid to an entry with (svt, sq, want); true if delivered. */
static bool sv_try(vt_env *e, uint32_t idx, unsigned svt, unsigned sq,
                   uint16_t want, uint16_t sid)
{
    irte_put(e->h, IRT_A, idx, irte_lo(0x58, IRTE_XDST(0)),
             IRTE_SVT(svt) | IRTE_SQ(sq) | IRTE_SID(want));
    assert_int_equal(intc_iommu_invalidate(e->u, idx, 0), INTC_OK);
    size_t f = th_count_events(e->h, INTC_EV_IR_FAULT);
    int v = remapped_vec(e, rmsi(idx, false), 0, sid);
    if (v < 0) {
        th_assert_event_count(e->h, INTC_EV_IR_FAULT, f + 1);
        assert_fault(e, INTC_VTD_FR_SOURCE_ID, true);
        unsigned rec = FS_FRI(r32(e->u, INTC_VTD_FSTS));
        assert_int_equal(FRR_FR(frr_hi(e->u, rec)), 0x26);
        assert_int_equal(FRR_SID(frr_hi(e->u, rec)), sid);
        assert_int_equal(FRR_FI(frr_lo(e->u, rec)), idx);
        /* Free the records for the next try. */
        for (unsigned i = 0; i < 8; i++)
            frr_clear(e->u, i);
        return false;
    }
    return true;
}

/* VT-d 9.10 SVT=00b: no verification. */
static void test_svt00_no_verification(void **state)
{
    vt_env e;
    xenv(&e, state, 2);
    assert_true(sv_try(&e, 1, 0, 0, 0x1234, SID_DEV));
    assert_true(sv_try(&e, 1, 0, 3, 0x1234, 0xffff));
    env_end(&e);
}

/* VT-d 9.10 SVT=01b: the request's SID must equal IRTE.SID, except for
   the function-number bits SQ says to ignore (01b: bit 2, 10b: bits 2:1,
   11b: bits 2:0). */
static void test_svt01_sid_and_sq(void **state)
{
    vt_env e;
    xenv(&e, state, 2);
    const uint16_t w = 0x0118; /* 01:03.0 */
    /* SQ=00: all 16 bits. */
    assert_true(sv_try(&e, 1, 1, 0, w, w));
    assert_false(sv_try(&e, 1, 1, 0, w, w | 1));
    assert_false(sv_try(&e, 1, 1, 0, w, w | 4));
    assert_false(sv_try(&e, 1, 1, 0, w, (uint16_t)(w + 0x100)));
    /* SQ=01: bit 2 ignored. */
    assert_true(sv_try(&e, 1, 1, 1, w, w | 4));
    assert_false(sv_try(&e, 1, 1, 1, w, w | 2));
    assert_false(sv_try(&e, 1, 1, 1, w, w | 1));
    /* SQ=10: bits 2:1 ignored. */
    assert_true(sv_try(&e, 1, 1, 2, w, w | 6));
    assert_true(sv_try(&e, 1, 1, 2, w, w | 2));
    assert_false(sv_try(&e, 1, 1, 2, w, w | 1));
    /* SQ=11: bits 2:0 ignored, the device still checked. */
    assert_true(sv_try(&e, 1, 1, 3, w, w | 7));
    assert_false(sv_try(&e, 1, 1, 3, w, (uint16_t)(w + 8)));
    assert_false(sv_try(&e, 1, 1, 3, w, (uint16_t)(w ^ 0x0100)));
    env_end(&e);
}

/* VT-d 9.10 SVT=10b: the requester's bus must lie in [SID[15:8],
   SID[7:0]] (a bridge's secondary..subordinate range). */
static void test_svt10_bus_range(void **state)
{
    vt_env e;
    xenv(&e, state, 2);
    const uint16_t range = 0x0305; /* buses 3..5 */
    assert_true(sv_try(&e, 1, 2, 0, range, 0x0300));
    assert_true(sv_try(&e, 1, 2, 0, range, 0x04ab));
    assert_true(sv_try(&e, 1, 2, 0, range, 0x05ff));
    assert_false(sv_try(&e, 1, 2, 0, range, 0x02ff));
    assert_false(sv_try(&e, 1, 2, 0, range, 0x0600));
    assert_false(sv_try(&e, 1, 2, 0, range, 0x0000));
    env_end(&e);
}

/* VT-d 9.10 SVT=11b is reserved: fault 24h whatever the SID. */
static void test_svt11_reserved(void **state)
{
    vt_env e;
    xenv(&e, state, 2);
    irte_put(e.h, IRT_A, 1, irte_lo(0x58, IRTE_XDST(0)),
             IRTE_SVT(3) | IRTE_SID(SID_DEV));
    send(&e, rmsi(1, false), 0, SID_DEV);
    assert_fault(&e, INTC_VTD_FR_RESERVED_IRTE, true);
    assert_no_irr(e.m);
    env_end(&e);
}

/* ================================================================== */
/* Compatibility format (VT-d 5.1.2.1, 5.1.4.1)                        */
/* ================================================================== */

/* VT-d 5.1.2.1: with CFIS=1 and EIME=0 compatibility-format requests
   bypass remapping and are delivered as they are. */
static void test_compat_passes_with_cfi(void **state)
{
    vt_env e;
    intc_machine_config cfg;
    vt_cfg(&cfg, 2);
    env_start(&e, state, &cfg);
    ir_enable(e.u, IRT_A, 7, false, true);
    assert_true(r32(e.u, INTC_VTD_GSTS) & GS_CFIS);
    send(&e, cmsi(1), 0x33, SID_DEV);
    assert_true(irr(cpu(e.m, 1), 0x33));
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    th_assert_event_count(e.h, INTC_EV_IR_REMAPPED, 0);
    th_assert_event_count(e.h, INTC_EV_IR_FAULT, 0);
    th_assert_event(e.h, INTC_EV_MSI, TH_ANY_CPU, TH_ANY_VECTOR);
    env_end(&e);
}

/* VT-d 5.1.4.1: with CFIS=0 a compatibility request is blocked, 25h. */
static void test_compat_blocked_without_cfi(void **state)
{
    vt_env e;
    xenv(&e, state, 2);
    send(&e, cmsi(0xff), 0x33, SID_DEV);
    assert_fault(&e, INTC_VTD_FR_COMPAT_BLOCKED, true);
    assert_int_equal(FRR_FR(frr_hi(e.u, 0)), 0x25);
    assert_int_equal(FRR_SID(frr_hi(e.u, 0)), SID_DEV);
    th_assert_event_count(e.h, INTC_EV_IRR_SET, 0);
    assert_no_irr(e.m);
    env_end(&e);
}

/* VT-d 5.1.2.1: in x2APIC interrupt mode (EIME=1) compatibility requests
   are blocked even with CFI set. */
static void test_compat_blocked_in_eime_even_with_cfi(void **state)
{
    vt_env e;
    x2env(&e, state, true);
    assert_true(r32(e.u, INTC_VTD_GSTS) & GS_CFIS);
    send(&e, cmsi(1), 0x33, SID_DEV);
    assert_fault(&e, INTC_VTD_FR_COMPAT_BLOCKED, true);
    th_assert_event_count(e.h, INTC_EV_IRR_SET, 0);
    assert_no_irr(e.m);
    env_end(&e);
}

/* VT-d 5.1 / brief: with remapping disabled compatibility requests pass
   (whatever CFI and IRTA say); remappable ones are dropped
   (MSI_DROPPED NO_REMAPPING) without a fault. */
static void test_ir_disabled_passes_compat(void **state)
{
    vt_env e;
    intc_machine_config cfg;
    vt_cfg(&cfg, 2);
    env_start(&e, state, &cfg);
    w64(e.u, INTC_VTD_IRTA, IRT_A | INTC_VTD_IRTA_EIME | 7);
    w32(e.u, INTC_VTD_GCMD, INTC_VTD_GCMD_SIRTP);
    irte_put(e.h, IRT_A, 1, irte_lo(0x41, IRTE_DST(0)), 0);

    send(&e, cmsi(1), 0x33, SID_DEV);
    assert_true(irr(cpu(e.m, 1), 0x33));
    send(&e, cmsi(0xff), 0x34 | 4u << 8 /* NMI */, SID_DEV);
    assert_true(intc_lapic_pending(cpu(e.m, 0)) & INTC_PEND_NMI);
    send(&e, rmsi(1, false), 0, SID_DEV);
    assert_false(irr(cpu(e.m, 0), 0x41));
    TH_IF_TRACED(e.h) {
        const intc_event *ev = th_last_event(e.h, INTC_EV_MSI_DROPPED);
        assert_non_null(ev);
        assert_int_equal(ev->data2 >> 32, INTC_MSI_DROP_NO_REMAPPING);
    }
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    th_assert_event_count(e.h, INTC_EV_IR_FAULT, 0);
    env_end(&e);
}

/* ================================================================== */
/* Posted interrupts (VT-d 5.2, 9.11, 9.12)                            */
/* ================================================================== */

#define NV 0xf2 /* notification vector */

/* xAPIC mode; PID at PID_A notifying CPU 1 (NDST[15:8] = 1). */
static void penv(vt_env *e, void **state, uint64_t pid_extra)
{
    xenv(e, state, 2);
    pid_put(e->h, PID_A, pid_ctl(NV, 1u << 8) | pid_extra);
    irte_put(e->h, IRT_A, 7, pirte_lo(0x51, PID_A), pirte_hi(PID_A));
    irte_put(e->h, IRT_A, 8, pirte_lo(0x92, PID_A), pirte_hi(PID_A));
    irte_put(e->h, IRT_A, 9, pirte_lo(0x30, PID_A) | IRTE_URG,
             pirte_hi(PID_A));
    th_clear_events(e->h);
}

/* VT-d 5.2.3 / 9.12: posting sets PIR[VV]; with ON=0 and SN=0 it sets ON
   and sends the notification (NV to NDST); the vector itself reaches no
   APIC. */
static void test_posted_sets_pir_and_notifies(void **state)
{
    vt_env e;
    penv(&e, state, 0);
    send(&e, rmsi(7, false), 0, SID_DEV);
    assert_true(pir_bit(e.h, PID_A, 0x51));
    assert_true(gm_r64(e.h, PID_A + 32) & PID_ON);
    assert_true(irr(cpu(e.m, 1), NV));
    assert_false(irr(cpu(e.m, 0), NV));
    assert_false(irr(cpu(e.m, 1), 0x51));
    th_assert_event_count(e.h, INTC_EV_IRR_SET, 1);
    TH_IF_TRACED(e.h) {
        const intc_event *ev = th_last_event(e.h, INTC_EV_IR_POSTED);
        assert_non_null(ev);
        assert_int_equal(ev->vector, 0x51);
        assert_int_equal(ev->data, PID_A);
        assert_int_equal(ev->data2, 1);
        assert_int_equal(ev->pin, SID_DEV);
    }
    th_assert_event_count(e.h, INTC_EV_IR_REMAPPED, 0);
    /* The rest of the descriptor is untouched. */
    assert_int_equal(gm_r64(e.h, PID_A + 32),
                     pid_ctl(NV, 1u << 8) | PID_ON);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    env_end(&e);
}

/* VT-d 5.2.3: with ON already set, posting only sets PIR: no second
   notification. */
static void test_posted_no_notify_when_on_set(void **state)
{
    vt_env e;
    penv(&e, state, 0);
    send(&e, rmsi(7, false), 0, SID_DEV);
    assert_int_equal(intc_lapic_ack(cpu(e.m, 1)), NV);
    eoi(cpu(e.m, 1));
    send(&e, rmsi(8, false), 0, SID_DEV);
    assert_true(pir_bit(e.h, PID_A, 0x51));
    assert_true(pir_bit(e.h, PID_A, 0x92));
    assert_false(irr(cpu(e.m, 1), NV));
    th_assert_event_count(e.h, INTC_EV_IRR_SET, 1);
    th_assert_last_event(e.h, INTC_EV_IR_POSTED, data2, 0);
    env_end(&e);
}

/* VT-d 5.2.3: SN=1 suppresses the notification (ON stays 0) for normal
   entries; an urgent entry (URG=1) still notifies. */
static void test_posted_sn_suppresses_unless_urgent(void **state)
{
    vt_env e;
    penv(&e, state, PID_SN);
    send(&e, rmsi(7, false), 0, SID_DEV);
    assert_true(pir_bit(e.h, PID_A, 0x51));
    assert_false(gm_r64(e.h, PID_A + 32) & PID_ON);
    th_assert_event_count(e.h, INTC_EV_IRR_SET, 0);
    th_assert_last_event(e.h, INTC_EV_IR_POSTED, data2, 0);

    send(&e, rmsi(9, false), 0, SID_DEV); /* URG */
    assert_true(pir_bit(e.h, PID_A, 0x30));
    assert_true(gm_r64(e.h, PID_A + 32) & PID_ON);
    assert_true(gm_r64(e.h, PID_A + 32) & PID_SN);
    assert_true(irr(cpu(e.m, 1), NV));
    th_assert_last_event(e.h, INTC_EV_IR_POSTED, data2, 1);
    env_end(&e);
}

/* VT-d 9.12: in x2APIC mode NDST is a 32-bit x2APIC ID. */
static void test_posted_x2apic_ndst(void **state)
{
    vt_env e;
    x2env(&e, state, false);
    pid_put(e.h, PID_A, pid_ctl(NV, X2ID));
    irte_put(e.h, IRT_A, 7, pirte_lo(0x51, PID_A), pirte_hi(PID_A));
    send(&e, rmsi(7, false), 0, SID_DEV);
    assert_true(pir_bit(e.h, PID_A, 0x51));
    assert_true(irr(cpu(e.m, 2), NV));
    for (uint32_t c = 0; c < 4; c++)
        if (c != 2)
            assert_false(irr(cpu(e.m, c), NV));
    env_end(&e);
}

/* VT-d 9.12: reserved PID fields (271:258, 287:280, 511:320, and in
   xAPIC mode NDST bits other than 15:8) are fault 28h; PIR is not
   updated and nothing is notified. */
static void test_posted_reserved_pid_fault_28(void **state)
{
    static const struct {
        unsigned q;
        uint64_t bits;
    } rsv[] = {
        {4, 1ull << 2},  {4, 1ull << 15}, {4, 1ull << 24}, {4, 1ull << 31},
        {4, 1ull << 32}, {4, 1ull << 39}, {4, 1ull << 48}, {4, 1ull << 63},
        {5, 1},          {6, 1ull << 40}, {7, 1ull << 63},
    };
    for (unsigned i = 0; i < sizeof(rsv) / sizeof(rsv[0]); i++) {
        vt_env e;
        penv(&e, state, 0);
        gm_w64(e.h, PID_A + 8 * rsv[i].q,
               gm_r64(e.h, PID_A + 8 * rsv[i].q) | rsv[i].bits);
        send(&e, rmsi(7, false), 0, SID_DEV);
        TH_IF_TRACED(e.h) {
            if ((th_last_event(e.h, INTC_EV_IR_FAULT) == NULL) ||
                th_last_event(e.h, INTC_EV_IR_FAULT)->data != (0x28 | 1u << 8))
                fail_msg("case %u: no fault 28h", i);
        }
        assert_int_equal(FRR_FI(frr_lo(e.u, 0)), 7);
        assert_false(pir_bit(e.h, PID_A, 0x51));
        assert_false(gm_r64(e.h, PID_A + 32) & PID_ON);
        th_assert_event_count(e.h, INTC_EV_IRR_SET, 0);
        env_end(&e);
    }
}

/* VT-d 9.11 / 7.1.3: a descriptor that cannot be read or written is
   fault 27h. */
static void test_posted_pid_access_fault_27(void **state)
{
    vt_env e;
    penv(&e, state, 0);
    irte_put(e.h, IRT_A, 10, pirte_lo(0x51, BAD_GPA), pirte_hi(BAD_GPA));
    send(&e, rmsi(10, false), 0, SID_DEV);
    assert_fault(&e, INTC_VTD_FR_PID_ACCESS, true);
    assert_int_equal(FRR_FI(frr_lo(e.u, 0)), 10);
    assert_no_irr(e.m);

    e.h->fail_dma_write = true; /* readable but not writable */
    send(&e, rmsi(7, false), 0, SID_DEV);
    assert_fault(&e, INTC_VTD_FR_PID_ACCESS, true);
    th_assert_event_count(e.h, INTC_EV_IRR_SET, 0);
    e.h->fail_dma_write = false;
    env_end(&e);
}

/* VT-d 9.11: posted-format reserved bits (7:2, 13:12, 37:24, 95:84) are
   fault 24h. */
static void test_posted_irte_reserved_fault_24(void **state)
{
    static const struct {
        uint64_t lo, hi;
    } rsv[] = {
        {1ull << 2, 0},  {1ull << 7, 0},  {1ull << 12, 0}, {1ull << 13, 0},
        {1ull << 24, 0}, {1ull << 37, 0}, {0, 1ull << 20}, {0, 1ull << 31},
    };
    vt_env e;
    penv(&e, state, 0);
    for (unsigned i = 0; i < sizeof(rsv) / sizeof(rsv[0]); i++) {
        uint32_t idx = 0x20 + i;
        irte_put(e.h, IRT_A, idx, pirte_lo(0x51, PID_A) | rsv[i].lo,
                 pirte_hi(PID_A) | rsv[i].hi);
        send(&e, rmsi(idx, false), 0, SID_DEV);
        TH_IF_TRACED(e.h) {
            const intc_event *ev = th_last_event(e.h, INTC_EV_IR_FAULT);
            if (!ev || ev->data2 != idx || (ev->data & 0xff) != 0x24)
                fail_msg("case %u: no fault 24h", i);
        }
    }
    assert_false(pir_bit(e.h, PID_A, 0x51));
    env_end(&e);
}

/* VT-d 11.4.2 CAP.PI / 9.10: without posted-interrupt support IM=1 is a
   reserved bit: fault 24h, the descriptor is untouched. */
static void test_posted_unsupported_im_reserved(void **state)
{
    vt_env e;
    intc_machine_config cfg;
    vt_cfg(&cfg, 2);
    cfg.iommu.posted = false;
    env_start(&e, state, &cfg);
    ir_enable(e.u, IRT_A, 7, false, false);
    pid_put(e.h, PID_A, pid_ctl(NV, 1u << 8));
    irte_put(e.h, IRT_A, 7, pirte_lo(0x51, PID_A), pirte_hi(PID_A));
    send(&e, rmsi(7, false), 0, SID_DEV);
    assert_fault(&e, INTC_VTD_FR_RESERVED_IRTE, true);
    assert_false(pir_bit(e.h, PID_A, 0x51));
    assert_no_irr(e.m);
    env_end(&e);
}

/* lapic.h intc_lapic_sync_pir: the notified CPU's host folds the PIR
   image (read from the descriptor) into IRR; the posted vectors are then
   delivered in priority order. */
static void test_posted_then_sync_pir_delivers(void **state)
{
    vt_env e;
    penv(&e, state, 0);
    send(&e, rmsi(7, false), 0, SID_DEV);
    send(&e, rmsi(8, false), 0, SID_DEV);
    send(&e, rmsi(9, false), 0, SID_DEV);
    intc_lapic *l = cpu(e.m, 1);
    assert_int_equal(intc_lapic_ack(l), NV);
    eoi(l);
    uint64_t pir[4];
    for (unsigned w = 0; w < 4; w++)
        pir[w] = gm_r64(e.h, PID_A + 8 * w);
    assert_int_equal(intc_lapic_sync_pir(l, pir), INTC_OK);
    assert_true(irr(l, 0x51));
    assert_true(irr(l, 0x92));
    assert_true(irr(l, 0x30));
    assert_false(tmr(l, 0x92));
    assert_int_equal(intc_lapic_ack(l), 0x92);
    eoi(l);
    assert_int_equal(intc_lapic_ack(l), 0x51);
    eoi(l);
    assert_int_equal(intc_lapic_ack(l), 0x30);
    eoi(l);
    assert_false(irr(cpu(e.m, 0), 0x51));
    env_end(&e);
}

/* ================================================================== */
/* Security property (VT-d 5.1: remapping isolates devices)            */
/* ================================================================== */

/* A device that sends with a wrong source-id, an out-of-range index, a
   non-present entry, a reserved request or a blocked compatibility
   message never reaches any Local APIC; each attempt is reported
   (IR_FAULT) and, while records are free, recorded; legitimate traffic
   interleaved with the attacks is delivered normally. */
static void test_security_hostile_device_never_reaches_lapic(void **state)
{
    vt_env e;
    intc_machine_config cfg;
    vt_cfg(&cfg, 4);
    env_start(&e, state, &cfg);
    ir_enable(e.u, IRT_A, 3, false, false); /* 16 entries */
    irte_put(e.h, IRT_A, 1, irte_lo(0x61, IRTE_XDST(2)),
             IRTE_SVT(1) | IRTE_SID(SID_DEV));
    irte_put(e.h, IRT_A, 2, 0, 0);
    irte_put(e.h, IRT_A, 3, irte_lo(0x63, IRTE_XDST(0xff)) & ~IRTE_P, 0);
    intc_lapic *l2 = cpu(e.m, 2);

    /* Attacks: wrong requester for idx 1; idx 16; idx 0x8001 (bit 15);
       idx 2 and 3 not present; compatibility broadcast fixed and NMI;
       SHV with reserved data; SHV pushing the index out of range. */
    static const unsigned reason[9] = {0x26, 0x21, 0x21, 0x22, 0x22,
                                       0x25, 0x25, 0x20, 0x21};
    const uint64_t addrs[9] = {rmsi(1, false), rmsi(16, false),
                               rmsi(0x8001, false), rmsi(2, false),
                               rmsi(3, false), cmsi(0xff), cmsi(0xff),
                               rmsi(1, true), rmsi(1, true)};
    static const uint32_t datas[9] = {0, 0, 0, 0, 0, 0x62, 0x4400,
                                      0x10000, 0xffff};
    for (unsigned i = 0; i < 9; i++) {
        size_t faults = th_count_events(e.h, INTC_EV_IR_FAULT);
        size_t irrs = th_count_events(e.h, INTC_EV_IRR_SET);
        send(&e, addrs[i], datas[i], i == 0 ? SID_EVIL : (uint16_t)(0x0700 + i));
        th_assert_event_count(e.h, INTC_EV_IRR_SET, irrs);
        th_assert_event_count(e.h, INTC_EV_IR_FAULT, faults + 1);
        TH_IF_TRACED(e.h) {
            const intc_event *ev = th_last_event(e.h, INTC_EV_IR_FAULT);
            if ((ev->data & 0xff) != reason[i])
                fail_msg("attack %u: fault %#llx, want %#x", i,
                         (unsigned long long)ev->data, reason[i]);
            if (i < 8) /* 8 records, none cleared: the 9th overflows */
                assert_int_equal(ev->data >> 8, 1);
        }
        assert_no_irr(e.m);
        for (uint32_t c = 0; c < 4; c++)
            assert_int_equal(intc_lapic_pending(cpu(e.m, c)), 0);

        /* The legitimate device right after. */
        send(&e, rmsi(1, false), 0, SID_DEV);
        assert_true(irr(l2, 0x61));
        assert_int_equal(intc_lapic_ack(l2), 0x61);
        eoi(l2);
    }
    assert_true(r32(e.u, INTC_VTD_FSTS) & FS_PFO);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(FRR_FR(frr_hi(e.u, i)), reason[i]);
    assert_int_equal(FRR_SID(frr_hi(e.u, 0)), SID_EVIL);
    assert_int_equal(FRR_FI(frr_lo(e.u, 1)), 16);
    assert_int_equal(FRR_FI(frr_lo(e.u, 2)), 0x8001);
    env_end(&e);
}

/* ================================================================== */
/* End to end                                                          */
/* ================================================================== */

/* PCIe 7.7.2 MSI-X + VT-d 5.1.2.2: a function whose table entry holds a
   remappable address is remapped through its IRTE (with its own
   requester ID verified) and handled by the Local APIC: IRR, INTA to
   ISR, EOI. */
static void test_e2e_msix_remapped_ack_eoi(void **state)
{
    vt_env e;
    xenv(&e, state, 2);
    irte_put(e.h, IRT_A, 0x20, irte_lo(0x71, IRTE_XDST(1)),
             IRTE_SVT(1) | IRTE_SID(SID_DEV));
    irte_put(e.h, IRT_A, 0x32, irte_lo(0x72, IRTE_XDST(0)),
             IRTE_SVT(1) | IRTE_SID(SID_DEV));
    intc_err err = INTC_OK;
    intc_msix *x = intc_msix_new(e.m, 4, SID_DEV, &err);
    assert_non_null(x);
    /* Entry 0: handle 0x20; entry 1: handle 0x30 with SHV, subhandle 2. */
    assert_int_equal(intc_msix_table_write(x, 0, 4, rmsi(0x20, false)),
                     INTC_OK);
    assert_int_equal(intc_msix_table_write(x, 4, 4, 0), INTC_OK);
    assert_int_equal(intc_msix_table_write(x, 8, 4, 0), INTC_OK);
    assert_int_equal(intc_msix_table_write(x, 12, 4, 0), INTC_OK);
    assert_int_equal(intc_msix_table_write(x, 16, 4, rmsi(0x30, true)),
                     INTC_OK);
    assert_int_equal(intc_msix_table_write(x, 24, 4, 2), INTC_OK);
    assert_int_equal(intc_msix_table_write(x, 28, 4, 0), INTC_OK);
    assert_int_equal(intc_msix_set_control(x, true, false), INTC_OK);

    assert_int_equal(intc_msix_notify(x, 0, NULL), INTC_OK);
    intc_lapic *l = cpu(e.m, 1);
    assert_true(intc_lapic_pending(l) & INTC_PEND_INTR);
    assert_int_equal(intc_lapic_ack(l), 0x71);
    assert_true(isr(l, 0x71));
    assert_false(irr(l, 0x71));
    eoi(l);
    assert_false(isr(l, 0x71));

    assert_int_equal(intc_msix_notify(x, 1, NULL), INTC_OK);
    assert_int_equal(intc_lapic_ack(cpu(e.m, 0)), 0x72);
    eoi(cpu(e.m, 0));
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    th_assert_event_count(e.h, INTC_EV_IR_REMAPPED, 2);
    intc_msix_free(x);
    env_end(&e);
}

/* VT-d 5.1.5.1: an IOAPIC RTE in remappable format (bit 48, handle in
   63:49 and bit 11) sends a remappable message with the IOAPIC's source
   id; level-triggered with Remote IRR (82093AA 3.2.4) and EOI broadcast
   (SDM 11.8.5), the RTE vector matching the IRTE's. */
static void ioapic_e2e(void **state, bool x2)
{
    static const uint8_t wiring[24] = {[5] = INTC_PIN_LEVEL};
    intc_ioapic_config ioc = {.id = 8, .version = 0x20, .n_pins = 24,
                              .gsi_base = 0, .source_id = 0x00f8,
                              .pin_wiring = wiring};
    intc_machine_config cfg;
    vt_env e;
    vt_cfg(&cfg, 4);
    cfg.ioapics = &ioc;
    cfg.n_ioapics = 1;
    if (x2)
        cfg.apic_ids = x2ids;
    env_start(&e, state, &cfg);
    if (x2)
        x2_enable_all(e.m);
    ir_enable(e.u, IRT_A, 15, x2, false);

    /* Handle 0x8003: bits 63:49 = 3, bit 11 = 1. */
    const uint32_t idx = 0x8003;
    uint32_t target = x2 ? 2 : 1;
    uint64_t dst = x2 ? IRTE_DST(X2ID) : IRTE_XDST(1);
    irte_put(e.h, IRT_A, idx, irte_lo(0x81, dst) | IRTE_TM_LEVEL,
             IRTE_SVT(1) | IRTE_SID(0x00f8));
    intc_ioapic *io = intc_machine_ioapic(e.m, 0);
    rte_set(io, 5, RTE_VEC(0x81) | RTE_LEVEL | INTC_RTE_REMAPPABLE |
                       (1ull << 11) | (uint64_t)(idx & 0x7fff) << 49);

    intc_lapic *l = cpu(e.m, target);
    assert_int_equal(intc_ioapic_set_irq(io, 5, true), INTC_OK);
    assert_true(irr(l, 0x81));
    assert_true(tmr(l, 0x81));
    assert_true(remote_irr(io, 5));
    TH_IF_TRACED(e.h) {
        const intc_event *ev = th_last_event(e.h, INTC_EV_IR_REMAPPED);
        assert_non_null(ev);
        assert_int_equal(ev->data, idx);
        assert_int_equal(ev->pin, 0x00f8);
    }

    /* EOI with the line still asserted: Remote IRR cleared, re-sent. */
    assert_int_equal(intc_lapic_ack(l), 0x81);
    eoi(l);
    assert_true(irr(l, 0x81));
    assert_true(remote_irr(io, 5));
    /* De-assert, then EOI: nothing more. */
    assert_int_equal(intc_ioapic_set_irq(io, 5, false), INTC_OK);
    assert_int_equal(intc_lapic_ack(l), 0x81);
    eoi(l);
    assert_false(remote_irr(io, 5));
    assert_false(irr(l, 0x81));
    assert_false(isr(l, 0x81));
    for (uint32_t c = 0; c < 4; c++)
        if (c != target)
            assert_false(irr(cpu(e.m, c), 0x81));
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    env_end(&e);
}

static void test_e2e_ioapic_remappable_level_xapic(void **state)
{
    ioapic_e2e(state, false);
}

static void test_e2e_ioapic_remappable_level_x2apic(void **state)
{
    ioapic_e2e(state, true);
}

/* VT-d 5.1.6 / 11.4.13 (FEUADDR), 11.4.27 (IEUADDR): with extended
   interrupt mode the upper address register carries destination ID bits
   31:8 of the unit's own (non-remapped) event interrupts, so fault and
   invalidation-completion events reach a CPU with a large x2APIC ID
   (Linux programs address_hi = dest & 0xffffff00 for them). */
static void test_event_interrupts_reach_large_x2apic_id(void **state)
{
    vt_env e;
    x2env(&e, state, false);
    w32(e.u, INTC_VTD_FEDATA, 0xe5);
    w32(e.u, INTC_VTD_FEADDR, (uint32_t)cmsi(X2ID & 0xff));
    w32(e.u, INTC_VTD_FEUADDR, X2ID & 0xffffff00u);
    w32(e.u, INTC_VTD_FECTL, 0);
    send(&e, rmsi(1, false), 0, SID_DEV); /* not present: 22h */
    assert_true(irr(cpu(e.m, 2), 0xe5));
    for (uint32_t c = 0; c < 4; c++)
        if (c != 2)
            assert_false(irr(cpu(e.m, c), 0xe5));

    w32(e.u, INTC_VTD_IEDATA, 0xe6);
    w32(e.u, INTC_VTD_IEADDR, (uint32_t)cmsi(X2ID & 0xff));
    w32(e.u, INTC_VTD_IEUADDR, X2ID & 0xffffff00u);
    w32(e.u, INTC_VTD_IECTL, 0);
    iq_enable(e.u, INTC_VTD_GCMD_IRE);
    desc_put(e.h, 0, wait_lo(true, false, 0), 0);
    w64(e.u, INTC_VTD_IQT, 16);
    assert_true(irr(cpu(e.m, 2), 0xe6));
    /* Upper address 0: an ordinary 8-bit destination (CPU 1). */
    w32(e.u, INTC_VTD_ICS, ICS_IWC);
    w32(e.u, INTC_VTD_IEADDR, (uint32_t)cmsi(1));
    w32(e.u, INTC_VTD_IEUADDR, 0);
    desc_put(e.h, 1, wait_lo(true, false, 0), 0);
    w64(e.u, INTC_VTD_IQT, 32);
    assert_true(irr(cpu(e.m, 1), 0xe6));
    env_end(&e);
}

/* ================================================================== */
/* Engine API (iommu.h)                                                */
/* ================================================================== */

/* iommu.h intc_iommu_set_table latches like SIRTP + GCMD; intc_iommu_
   remap fills intc_irq from the IRTE without delivering;
   intc_irq_deliver delivers it. */
static void test_engine_remapped_xapic(void **state)
{
    vt_env e;
    intc_machine_config cfg;
    vt_cfg(&cfg, 3);
    env_start(&e, state, &cfg);
    for (uint32_t c = 0; c < 3; c++)
        lw(cpu(e.m, c), INTC_LAPIC_LDR, (1u << c) << 24);
    assert_int_equal(intc_iommu_set_table(e.u, IRT_A | 7, true, false),
                     INTC_OK);
    assert_int_equal(r32(e.u, INTC_VTD_GSTS), GS_IRTPS | GS_IRES);
    assert_int_equal(r64(e.u, INTC_VTD_IRTA), IRT_A | 7);
    irte_put(e.h, IRT_A, 5,
             irte_lo(0x99, IRTE_XDST(0x06)) | IRTE_DM_LOGICAL | IRTE_RH |
                 IRTE_TM_LEVEL | IRTE_DLM(DLM_LOWEST),
             0);
    intc_irq irq;
    memset(&irq, 0xa5, sizeof(irq));
    assert_int_equal(intc_iommu_remap(e.u, SID_DEV, rmsi(5, false), 0, &irq),
                     INTC_OK);
    assert_int_equal(irq.fault, 0);
    assert_false(irq.blocked);
    assert_false(irq.posted);
    assert_true(irq.remapped);
    assert_int_equal(irq.index, 5);
    assert_int_equal(irq.dest, 0x06);
    assert_int_equal(irq.vector, 0x99);
    assert_int_equal(irq.dm, DLM_LOWEST);
    assert_true(irq.logical);
    assert_true(irq.level);
    assert_true(irq.rh);
    assert_false(irq.x2apic);
    th_assert_event_count(e.h, INTC_EV_IRR_SET, 0);

    assert_int_equal(intc_irq_deliver(e.m, &irq, NULL), INTC_OK);
    th_assert_event_count(e.h, INTC_EV_IRR_SET, 1);
    assert_true(irr(cpu(e.m, 1), 0x99) || irr(cpu(e.m, 2), 0x99));
    assert_false(irr(cpu(e.m, 0), 0x99));
    env_end(&e);
}

/* iommu.h / VT-d 9.10: with EIME the result carries a 32-bit x2APIC
   destination. */
static void test_engine_remapped_x2apic(void **state)
{
    vt_env e;
    intc_machine_config cfg;
    vt_cfg(&cfg, 4);
    cfg.apic_ids = x2ids;
    env_start(&e, state, &cfg);
    x2_enable_all(e.m);
    assert_int_equal(intc_iommu_set_table(e.u, IRT_A | INTC_VTD_IRTA_EIME | 7,
                                          true, false),
                     INTC_OK);
    irte_put(e.h, IRT_A, 6, irte_lo(0x9a, IRTE_DST(X2ID)), 0);
    intc_irq irq;
    assert_int_equal(intc_iommu_remap(e.u, SID_DEV, rmsi(6, false), 0, &irq),
                     INTC_OK);
    assert_true(irq.remapped);
    assert_true(irq.x2apic);
    assert_int_equal(irq.dest, X2ID);
    assert_int_equal(irq.vector, 0x9a);
    assert_false(irq.logical);
    assert_false(irq.level);
    assert_int_equal(irq.dm, DLM_FIXED);
    assert_int_equal(intc_irq_deliver(e.m, &irq, NULL), INTC_OK);
    assert_true(irr(cpu(e.m, 2), 0x9a));
    env_end(&e);
}

/* iommu.h: a compatibility request allowed through comes back decoded,
   not remapped; a blocked one carries the fault (recorded as the
   register front-end shows it) and intc_irq_deliver ignores it. */
static void test_engine_compat_pass_and_blocked(void **state)
{
    vt_env e;
    intc_machine_config cfg;
    vt_cfg(&cfg, 2);
    env_start(&e, state, &cfg);
    intc_irq irq;

    assert_int_equal(intc_iommu_set_table(e.u, IRT_A | 7, true, true),
                     INTC_OK);
    assert_int_equal(r32(e.u, INTC_VTD_GSTS),
                     GS_IRTPS | GS_IRES | GS_CFIS);
    assert_int_equal(intc_iommu_remap(e.u, SID_DEV,
                                      cmsi(1) | INTC_MSI_ADDR_LOGICAL,
                                      0x3c | INTC_MSI_DATA_LEVEL |
                                          INTC_MSI_DATA_ASSERT,
                                      &irq),
                     INTC_OK);
    assert_int_equal(irq.fault, 0);
    assert_false(irq.blocked);
    assert_false(irq.remapped);
    assert_false(irq.posted);
    assert_int_equal(irq.vector, 0x3c);
    assert_int_equal(irq.dest, 1);
    assert_true(irq.logical);
    assert_true(irq.level);
    assert_false(irq.x2apic);

    assert_int_equal(intc_iommu_remap(e.u, SID_DEV, cmsi(1), 0x3d, &irq),
                     INTC_OK);
    assert_int_equal(intc_irq_deliver(e.m, &irq, NULL), INTC_OK);
    assert_true(irr(cpu(e.m, 1), 0x3d));

    assert_int_equal(intc_iommu_set_table(e.u, IRT_A | 7, true, false),
                     INTC_OK);
    assert_int_equal(intc_iommu_remap(e.u, SID_DEV, cmsi(0), 0x3e, &irq),
                     INTC_OK);
    assert_int_equal(irq.fault, INTC_VTD_FR_COMPAT_BLOCKED);
    assert_true(irq.blocked);
    assert_false(irq.remapped);
    assert_true(frr_hi(e.u, 0) & FRR_F);
    assert_int_equal(FRR_FR(frr_hi(e.u, 0)), 0x25);
    assert_int_equal(intc_irq_deliver(e.m, &irq, NULL), INTC_OK);
    assert_false(irr(cpu(e.m, 0), 0x3e));
    th_assert_event_count(e.h, INTC_EV_IRR_SET, 1);

    /* A remappable request that faults (not present): same. */
    assert_int_equal(intc_iommu_remap(e.u, SID_DEV, rmsi(9, false), 0, &irq),
                     INTC_OK);
    assert_int_equal(irq.fault, INTC_VTD_FR_NOT_PRESENT);
    assert_true(irq.blocked);
    assert_int_equal(irq.index, 9);
    env_end(&e);
}

/* iommu.h: set_table with enabled=false is remapping disabled: as the
   hardware does (VT-d 5.1, brief), compatibility requests pass without
   a fault whatever CFI says, remappable ones are not delivered. */
static void test_engine_disabled_passes_compat(void **state)
{
    vt_env e;
    intc_machine_config cfg;
    vt_cfg(&cfg, 2);
    env_start(&e, state, &cfg);
    intc_irq irq;
    irte_put(e.h, IRT_A, 1, irte_lo(0x41, IRTE_XDST(0)), 0);
    assert_int_equal(intc_iommu_set_table(e.u, IRT_A | 7, false, false),
                     INTC_OK);
    assert_false(r32(e.u, INTC_VTD_GSTS) & GS_IRES);

    assert_int_equal(intc_iommu_remap(e.u, SID_DEV, cmsi(1), 0x3d, &irq),
                     INTC_OK);
    assert_int_equal(irq.fault, 0);
    assert_false(irq.blocked);
    assert_false(irq.remapped);
    assert_int_equal(irq.vector, 0x3d);
    assert_int_equal(irq.dest, 1);
    assert_int_equal(intc_irq_deliver(e.m, &irq, NULL), INTC_OK);
    assert_true(irr(cpu(e.m, 1), 0x3d));

    assert_int_equal(intc_iommu_remap(e.u, SID_DEV, rmsi(1, false), 0, &irq),
                     INTC_OK);
    assert_true(irq.blocked);
    assert_false(irq.remapped);
    assert_int_equal(intc_irq_deliver(e.m, &irq, NULL), INTC_OK);
    assert_false(irr(cpu(e.m, 0), 0x41));
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    th_assert_event_count(e.h, INTC_EV_IR_FAULT, 0);
    env_end(&e);
}

/* iommu.h: a posted interrupt is fully handled by intc_iommu_remap
   (descriptor updated, notification sent); the result says posted and
   intc_irq_deliver does nothing with it. */
static void test_engine_posted(void **state)
{
    vt_env e;
    intc_machine_config cfg;
    vt_cfg(&cfg, 2);
    env_start(&e, state, &cfg);
    pid_put(e.h, PID_A, pid_ctl(NV, 1u << 8));
    irte_put(e.h, IRT_A, 7, pirte_lo(0x51, PID_A), pirte_hi(PID_A));
    assert_int_equal(intc_iommu_set_table(e.u, IRT_A | 7, true, false),
                     INTC_OK);
    intc_irq irq;
    assert_int_equal(intc_iommu_remap(e.u, SID_DEV, rmsi(7, false), 0, &irq),
                     INTC_OK);
    assert_true(irq.posted);
    assert_false(irq.blocked);
    assert_int_equal(irq.fault, 0);
    assert_int_equal(irq.vector, 0x51);
    assert_int_equal(irq.index, 7);
    assert_true(pir_bit(e.h, PID_A, 0x51));
    assert_true(irr(cpu(e.m, 1), NV));
    size_t n = th_count_events(e.h, INTC_EV_IRR_SET);
    assert_int_equal(intc_irq_deliver(e.m, &irq, NULL), INTC_OK);
    th_assert_event_count(e.h, INTC_EV_IRR_SET, n);
    assert_false(irr(cpu(e.m, 0), 0x51));
    assert_false(irr(cpu(e.m, 1), 0x51));
    env_end(&e);
}

/* machine.h: every allocation failure while creating a machine with a
   VT-d unit (and an IOAPIC) gives NULL + INTC_ERR_NOMEM and leaks
   nothing. */
static void test_machine_new_alloc_failures(void **state)
{
    th_host *h = *state;
    intc_ioapic_config ioc = {.id = 2, .version = 0x20, .n_pins = 24,
                              .source_id = 0x00f8};
    intc_machine_config cfg;
    vt_memory(h);
    vt_cfg(&cfg, 4);
    cfg.ioapics = &ioc;
    cfg.n_ioapics = 1;
    cfg.iommu.n_fault_regs = 16;
    cfg.iommu.cache_entries = 128;

    unsigned failures = 0;
    for (unsigned long k = 1; k < 1000; k++) {
        intc_err err = INTC_OK;
        h->fail_at = k;
        h->n_allocs = 0;
        intc_machine *m = intc_machine_new(&cfg, &h->ops, h, &err);
        h->fail_at = 0;
        if (m) {
            assert_int_equal(err, INTC_OK);
            assert_non_null(intc_machine_iommu(m));
            vt_check(m);
            intc_machine_free(m);
            break;
        }
        failures++;
        assert_int_equal(err, INTC_ERR_NOMEM);
        if (h->live_bytes != 0 || h->live_blocks != 0)
            fail_msg("allocation %lu failing leaks %zu bytes", k,
                     h->live_bytes);
    }
    assert_true(failures >= 4); /* machine..., unit, cache, records */
    assert_int_equal(h->live_bytes, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, th_setup, th_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* remapped delivery */
        T(test_remap_xapic_fixed_physical),
        T(test_remap_x2apic_large_id),
        T(test_remap_every_delivery_mode),
        T(test_remap_logical_xapic_flat),
        T(test_remap_logical_x2apic_cluster),
        T(test_remap_rh_lowest_priority),
        T(test_remap_level_sets_tmr_and_broadcasts_eoi),
        T(test_remap_shv_subhandle),
        T(test_remap_handle_bit15),
        T(test_irte_reserved_fields_fault_24),
        T(test_irte_dst_high_bits_not_reserved_in_x2apic_mode),
        /* source validation */
        T(test_svt00_no_verification),
        T(test_svt01_sid_and_sq),
        T(test_svt10_bus_range),
        T(test_svt11_reserved),
        /* compatibility format */
        T(test_compat_passes_with_cfi),
        T(test_compat_blocked_without_cfi),
        T(test_compat_blocked_in_eime_even_with_cfi),
        T(test_ir_disabled_passes_compat),
        /* posted interrupts */
        T(test_posted_sets_pir_and_notifies),
        T(test_posted_no_notify_when_on_set),
        T(test_posted_sn_suppresses_unless_urgent),
        T(test_posted_x2apic_ndst),
        T(test_posted_reserved_pid_fault_28),
        T(test_posted_pid_access_fault_27),
        T(test_posted_irte_reserved_fault_24),
        T(test_posted_unsupported_im_reserved),
        T(test_posted_then_sync_pir_delivers),
        /* security */
        T(test_security_hostile_device_never_reaches_lapic),
        /* end to end */
        T(test_e2e_msix_remapped_ack_eoi),
        T(test_e2e_ioapic_remappable_level_xapic),
        T(test_e2e_ioapic_remappable_level_x2apic),
        T(test_event_interrupts_reach_large_x2apic_id),
        /* engine */
        T(test_engine_remapped_xapic),
        T(test_engine_remapped_x2apic),
        T(test_engine_compat_pass_and_blocked),
        T(test_engine_disabled_passes_compat),
        T(test_engine_posted),
        T(test_machine_new_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
