/*
 * VT-d interrupt remapping, the register side: the register page (VT-d
 * spec 11.4), fault recording and fault events (ch. 7), the invalidation
 * queue (6.5.2) and the interrupt entry cache (6.5.2.7).
 *
 * Authority: Intel Virtualization Technology for Directed I/O
 * Architecture Specification (cited "VT-d x.y"), plus the documented
 * libintc choices in include/intc/iommu.h and the issue-4 design brief
 * (cited "iommu.h" / "brief").
 */
#include "vtd_util.h"

/* Requester IDs used by the tests (bus:dev.fn). */
#define SID_DEV 0x0100u   /* 01:00.0 */
#define SID_OTHER 0x0200u /* 02:00.0 */

/* ================================================================== */
/* Registers (VT-d 11.4)                                               */
/* ================================================================== */

/* VT-d 11.4.1-11.4.3 and brief: VER 0x10; CAP ND=2, SAGAW 0x4, MGAW 47,
   FRO 0x40 (records at 0x400), NFR = n_fault_regs-1, PI iff posted;
   ECAP QI, IR, EIM iff x2apic, IRO 0x50.  11.4.x reset values: every
   other register 0, FECTL/IECTL IM=1 (11.4.10, 11.4.24). */
static void test_reset_values(void **state)
{
    vt_env e;
    env_start(&e, state, NULL);
    intc_iommu *u = e.u;

    assert_int_equal(r32(u, INTC_VTD_VER), 0x10);
    assert_int_equal(r64(u, INTC_VTD_CAP),
                     2ull | 4ull << 8 | 47ull << 16 | 0x40ull << 24 |
                         7ull << 40 | 1ull << 59);
    assert_int_equal(r64(u, INTC_VTD_ECAP),
                     (1ull << 1) | (1ull << 3) | (1ull << 4) | 0x50ull << 8);
    assert_int_equal(r32(u, INTC_VTD_GCMD), 0);
    assert_int_equal(r32(u, INTC_VTD_GSTS), 0);
    assert_int_equal(r64(u, INTC_VTD_RTADDR), 0);
    assert_int_equal(r64(u, INTC_VTD_CCMD), 0);
    assert_int_equal(r32(u, INTC_VTD_FSTS), 0);
    assert_int_equal(r32(u, INTC_VTD_FECTL), CTL_IM);
    assert_int_equal(r32(u, INTC_VTD_FEDATA), 0);
    assert_int_equal(r32(u, INTC_VTD_FEADDR), 0);
    assert_int_equal(r32(u, INTC_VTD_FEUADDR), 0);
    assert_int_equal(r64(u, INTC_VTD_IQH), 0);
    assert_int_equal(r64(u, INTC_VTD_IQT), 0);
    assert_int_equal(r64(u, INTC_VTD_IQA), 0);
    assert_int_equal(r32(u, INTC_VTD_ICS), 0);
    assert_int_equal(r32(u, INTC_VTD_IECTL), CTL_IM);
    assert_int_equal(r32(u, INTC_VTD_IEDATA), 0);
    assert_int_equal(r32(u, INTC_VTD_IEADDR), 0);
    assert_int_equal(r32(u, INTC_VTD_IEUADDR), 0);
    assert_int_equal(r64(u, INTC_VTD_IRTA), 0);
    for (unsigned i = 0; i < 8; i++) {
        assert_int_equal(frr_lo(u, i), 0);
        assert_int_equal(frr_hi(u, i), 0);
    }
    env_end(&e);
}

/* intc_machine_reset: RESET returns the unit to the values above. */
static void test_machine_reset_restores_registers(void **state)
{
    vt_env e;
    env_start(&e, state, NULL);
    intc_iommu *u = e.u;

    ir_enable(u, IRT_A, 7, true, true);
    w32(u, INTC_VTD_FECTL, 0);
    w32(u, INTC_VTD_FEDATA, 0x55);
    send(&e, rmsi(3, false), 0, SID_DEV); /* P=0: a fault is recorded */
    assert_true(r32(u, INTC_VTD_FSTS) & FS_PPF);

    assert_int_equal(intc_machine_reset(e.m), INTC_OK);
    assert_int_equal(r32(u, INTC_VTD_GSTS), 0);
    assert_int_equal(r32(u, INTC_VTD_FSTS), 0);
    assert_int_equal(r32(u, INTC_VTD_FECTL), CTL_IM);
    assert_int_equal(r32(u, INTC_VTD_FEDATA), 0);
    assert_int_equal(r64(u, INTC_VTD_IRTA), 0);
    assert_int_equal(frr_hi(u, 0), 0);
    env_end(&e);
}

/* intc_machine_reset: the unit's interrupt entry cache is empty after
   RESET (nothing survives a platform reset). */
static void test_machine_reset_flushes_entry_cache(void **state)
{
    vt_env e;
    env_start(&e, state, NULL);
    irte_put(e.h, IRT_A, 1, irte_lo(0x41, IRTE_XDST(0)), 0);
    ir_enable(e.u, IRT_A, 7, false, false);
    assert_int_equal(remapped_vec(&e, rmsi(1, false), 0, SID_DEV), 0x41);
    irte_put(e.h, IRT_A, 1, irte_lo(0x61, IRTE_XDST(0)), 0);
    assert_int_equal(intc_machine_reset(e.m), INTC_OK);
    sw_enable_all(e.m);
    ir_enable(e.u, IRT_A, 7, false, false);
    assert_int_equal(remapped_vec(&e, rmsi(1, false), 0, SID_DEV), 0x61);
    env_end(&e);
}

/* VT-d 11.4.2/11.4.3: PI (CAP bit 59) only with cfg.posted, EIM (ECAP
   bit 4) only with cfg.x2apic, NFR (CAP 47:40) = number of fault
   recording registers - 1. */
static void test_cap_ecap_follow_config(void **state)
{
    vt_env e;
    intc_machine_config cfg;

    vt_cfg(&cfg, 1);
    cfg.iommu.posted = false;
    cfg.iommu.x2apic = false;
    cfg.iommu.n_fault_regs = 2;
    env_start(&e, state, &cfg);
    uint64_t cap = r64(e.u, INTC_VTD_CAP);
    uint64_t ecap = r64(e.u, INTC_VTD_ECAP);
    assert_false(cap & (1ull << 59));
    assert_int_equal((cap >> 40) & 0xff, 1);
    assert_int_equal((cap >> 24) & 0x3ff, 0x40);
    assert_false(ecap & (1ull << 4));
    assert_true(ecap & (1ull << 3)); /* IR */
    assert_true(ecap & (1ull << 1)); /* QI */
    /* Only two records: 0x420 is not a fault recording register. */
    assert_int_equal(r64(e.u, INTC_VTD_FRR + 0x20 + 8), 0);
    env_end(&e);

    vt_cfg(&cfg, 1);
    cfg.iommu.n_fault_regs = 256;
    env_start(&e, state, &cfg);
    cap = r64(e.u, INTC_VTD_CAP);
    assert_true(cap & (1ull << 59));
    assert_int_equal((cap >> 40) & 0xff, 255);
    assert_true(r64(e.u, INTC_VTD_ECAP) & (1ull << 4));
    env_end(&e);
}

/* VT-d 11.4.4/11.4.5: TE, QIE, IRE and CFI are persistent commands whose
   status follows the bit as written; GCMD itself reads 0 (brief). */
static void test_gcmd_persistent_bits_follow_write(void **state)
{
    static const uint32_t bits[] = {INTC_VTD_GCMD_TE, INTC_VTD_GCMD_QIE,
                                    INTC_VTD_GCMD_IRE, INTC_VTD_GCMD_CFI};
    vt_env e;
    env_start(&e, state, NULL);
    w64(e.u, INTC_VTD_IQA, IQ_BASE);

    for (unsigned i = 0; i < 4; i++) {
        th_clear_events(e.h);
        w32(e.u, INTC_VTD_GCMD, bits[i]);
        assert_int_equal(r32(e.u, INTC_VTD_GSTS), bits[i]);
        assert_int_equal(r32(e.u, INTC_VTD_GCMD), 0);
        TH_IF_TRACED(e.h) {
            const intc_event *ev = th_last_event(e.h, INTC_EV_IR_STATUS);
            assert_non_null(ev);
            assert_int_equal(ev->data, bits[i]);
            assert_int_equal(ev->data2, bits[i]);
        }
        w32(e.u, INTC_VTD_GCMD, 0);
        assert_int_equal(r32(e.u, INTC_VTD_GSTS), 0);
    }
    /* All four at once, then dropping one keeps the other three. */
    w32(e.u, INTC_VTD_GCMD, bits[0] | bits[1] | bits[2] | bits[3]);
    assert_int_equal(r32(e.u, INTC_VTD_GSTS),
                     bits[0] | bits[1] | bits[2] | bits[3]);
    w32(e.u, INTC_VTD_GCMD, bits[0] | bits[2] | bits[3]);
    assert_int_equal(r32(e.u, INTC_VTD_GSTS), bits[0] | bits[2] | bits[3]);
    env_end(&e);
}

/* VT-d 11.4.4: SIRTP and SRTP are one-shot: they set IRTPS/RTPS, which
   stay set; the command bit itself is not a status and GCMD reads 0. */
static void test_gcmd_sirtp_srtp_one_shot(void **state)
{
    vt_env e;
    env_start(&e, state, NULL);

    w32(e.u, INTC_VTD_GCMD, INTC_VTD_GCMD_SIRTP);
    assert_int_equal(r32(e.u, INTC_VTD_GSTS), GS_IRTPS);
    assert_int_equal(r32(e.u, INTC_VTD_GCMD), 0);
    /* A later persistent command without SIRTP keeps IRTPS. */
    w32(e.u, INTC_VTD_GCMD, INTC_VTD_GCMD_IRE);
    assert_int_equal(r32(e.u, INTC_VTD_GSTS), GS_IRTPS | GS_IRES);

    w32(e.u, INTC_VTD_GCMD, INTC_VTD_GCMD_IRE | INTC_VTD_GCMD_SRTP);
    assert_int_equal(r32(e.u, INTC_VTD_GSTS),
                     GS_IRTPS | GS_IRES | GS_RTPS);
    w32(e.u, INTC_VTD_GCMD, 0);
    assert_int_equal(r32(e.u, INTC_VTD_GSTS), GS_IRTPS | GS_RTPS);
    env_end(&e);
}

/* VT-d 11.4.29 (IRTA_REG) / 11.4.4 SIRTP: the register reads back as
   written, but remapping uses the value latched by the last SIRTP. */
static void test_irta_takes_effect_only_at_sirtp(void **state)
{
    vt_env e;
    env_start(&e, state, NULL);

    irte_put(e.h, IRT_A, 1, irte_lo(0x41, IRTE_XDST(0)), 0);
    irte_put(e.h, IRT_B, 2, irte_lo(0x52, IRTE_XDST(1)), 0);
    irte_put(e.h, IRT_A, 2, irte_lo(0x42, IRTE_XDST(1)), 0);
    ir_enable(e.u, IRT_A, 3, false, false);

    /* New table address written, not latched. */
    w64(e.u, INTC_VTD_IRTA, IRT_B | 3);
    assert_int_equal(r64(e.u, INTC_VTD_IRTA), IRT_B | 3);
    assert_int_equal(remapped_vec(&e, rmsi(1, false), 0, SID_DEV), 0x41);

    /* Latch it: a never-cached index now comes from table B. */
    w32(e.u, INTC_VTD_GCMD, INTC_VTD_GCMD_IRE | INTC_VTD_GCMD_SIRTP);
    assert_int_equal(remapped_vec(&e, rmsi(2, false), 0, SID_DEV), 0x52);
    assert_true(irr(cpu(e.m, 1), 0x52));
    assert_false(irr(cpu(e.m, 1), 0x42));
    env_end(&e);
}

/* VT-d 11.4.29: IRTA.EIME is writable only when ECAP.EIM is reported
   (brief: cfg.iommu.x2apic); otherwise it reads 0 and compatibility
   messages still pass with CFI (5.1.2.1). */
static void test_eime_not_settable_without_x2apic(void **state)
{
    vt_env e;
    intc_machine_config cfg;

    vt_cfg(&cfg, 2);
    cfg.iommu.x2apic = false;
    env_start(&e, state, &cfg);
    w64(e.u, INTC_VTD_IRTA, IRT_A | INTC_VTD_IRTA_EIME | 3);
    assert_int_equal(r64(e.u, INTC_VTD_IRTA), IRT_A | 3);
    w32(e.u, INTC_VTD_GCMD, INTC_VTD_GCMD_SIRTP);
    w32(e.u, INTC_VTD_GCMD, INTC_VTD_GCMD_IRE | INTC_VTD_GCMD_CFI);
    send(&e, cmsi(1), 0x33, SID_DEV);
    assert_true(irr(cpu(e.m, 1), 0x33));
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    env_end(&e);

    vt_cfg(&cfg, 2);
    env_start(&e, state, &cfg);
    w64(e.u, INTC_VTD_IRTA, IRT_A | INTC_VTD_IRTA_EIME | 3);
    assert_int_equal(r64(e.u, INTC_VTD_IRTA),
                     IRT_A | INTC_VTD_IRTA_EIME | 3);
    env_end(&e);
}

/* VT-d 11.4.10-11.4.12, 11.4.24-11.4.27: IM is read-write, IP read-only;
   the data and address registers hold their values, address bits 1:0
   read 0. */
static void test_fectl_iectl_and_event_registers(void **state)
{
    static const uint32_t ctl[] = {INTC_VTD_FECTL, INTC_VTD_IECTL};
    vt_env e;
    env_start(&e, state, NULL);

    for (unsigned i = 0; i < 2; i++) {
        w32(e.u, ctl[i], 0);
        assert_int_equal(r32(e.u, ctl[i]), 0);
        w32(e.u, ctl[i], CTL_IP); /* IP is read-only */
        assert_int_equal(r32(e.u, ctl[i]), 0);
        w32(e.u, ctl[i], CTL_IM | CTL_IP);
        assert_int_equal(r32(e.u, ctl[i]), CTL_IM);
    }
    w32(e.u, INTC_VTD_FEDATA, 0x1234);
    w32(e.u, INTC_VTD_FEADDR, 0xfee01003u);
    w32(e.u, INTC_VTD_FEUADDR, 0x00000012u);
    assert_int_equal(r32(e.u, INTC_VTD_FEDATA), 0x1234);
    assert_int_equal(r32(e.u, INTC_VTD_FEADDR), 0xfee01000u);
    assert_int_equal(r32(e.u, INTC_VTD_FEUADDR), 0x12);
    w32(e.u, INTC_VTD_IEDATA, 0x4321);
    w32(e.u, INTC_VTD_IEADDR, 0xfee02002u);
    w32(e.u, INTC_VTD_IEUADDR, 0x34);
    assert_int_equal(r32(e.u, INTC_VTD_IEDATA), 0x4321);
    assert_int_equal(r32(e.u, INTC_VTD_IEADDR), 0xfee02000u);
    assert_int_equal(r32(e.u, INTC_VTD_IEUADDR), 0x34);
    /* A 64-bit access covers the register pair (FECTL|FEDATA). */
    assert_int_equal(r64(e.u, INTC_VTD_FECTL),
                     (uint64_t)0x1234 << 32 | CTL_IM);
    env_end(&e);
}

/* VT-d 11.4.9: PFO, IQE (and the other error bits) are RW1C, PPF and
   FRI are read-only; writing 0 changes nothing. */
static void test_fsts_rw1c(void **state)
{
    vt_env e;
    intc_machine_config cfg;
    vt_cfg(&cfg, 2);
    cfg.iommu.n_fault_regs = 1;
    env_start(&e, state, &cfg);

    ir_enable(e.u, IRT_A, 7, false, false);
    send(&e, rmsi(3, false), 0, SID_DEV); /* recorded */
    send(&e, rmsi(4, false), 0, SID_DEV); /* overflow */
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), FS_PPF | FS_PFO);

    w32(e.u, INTC_VTD_FSTS, 0);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), FS_PPF | FS_PFO);
    w32(e.u, INTC_VTD_FSTS, FS_PPF | 0xff00u); /* read-only bits */
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), FS_PPF | FS_PFO);
    w32(e.u, INTC_VTD_FSTS, FS_PFO);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), FS_PPF);

    /* IQE: a descriptor of type 0 (6.5.2.10). */
    iq_enable(e.u, INTC_VTD_GCMD_IRE);
    desc_put(e.h, 0, 0, 0);
    w64(e.u, INTC_VTD_IQT, 16);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), FS_PPF | FS_IQE);
    w32(e.u, INTC_VTD_FSTS, 0);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), FS_PPF | FS_IQE);
    w32(e.u, INTC_VTD_FSTS, FS_IQE);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), FS_PPF);
    env_end(&e);
}

/* VT-d 11.4.14: in a fault recording register only F (bit 127) is
   writable, RW1C; clearing the last F clears FSTS.PPF (11.4.9). */
static void test_frr_f_rw1c(void **state)
{
    vt_env e;
    env_start(&e, state, NULL);
    ir_enable(e.u, IRT_A, 7, false, false);
    send(&e, rmsi(3, false), 0, SID_DEV);
    uint64_t lo = frr_lo(e.u, 0), hi = frr_hi(e.u, 0);
    assert_true(hi & FRR_F);

    w64(e.u, INTC_VTD_FRR, ~0ull);                /* low qword: RO */
    w32(e.u, INTC_VTD_FRR + 8, 0xffffffffu);       /* SID dword: RO */
    w32(e.u, INTC_VTD_FRR + 12, 0x7fffffffu);      /* F written 0 */
    assert_int_equal(frr_lo(e.u, 0), lo);
    assert_int_equal(frr_hi(e.u, 0), hi);
    assert_true(r32(e.u, INTC_VTD_FSTS) & FS_PPF);

    frr_clear(e.u, 0);
    assert_false(frr_hi(e.u, 0) & FRR_F);
    assert_false(r32(e.u, INTC_VTD_FSTS) & FS_PPF);
    /* A 64-bit write of the high qword with bit 63 also clears. */
    send(&e, rmsi(3, false), 0, SID_DEV);
    assert_true(frr_hi(e.u, 1) & FRR_F);
    w64(e.u, INTC_VTD_FRR + 16 + 8, FRR_F);
    assert_false(frr_hi(e.u, 1) & FRR_F);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS) & FS_PPF, 0);
    env_end(&e);
}

/* VT-d 11.4.23: ICS.IWC is RW1C. */
static void test_ics_iwc_rw1c(void **state)
{
    vt_env e;
    env_start(&e, state, NULL);
    iq_enable(e.u, 0);
    desc_put(e.h, 0, wait_lo(true, false, 0), 0);
    w64(e.u, INTC_VTD_IQT, 16);
    assert_int_equal(r32(e.u, INTC_VTD_ICS), ICS_IWC);
    w32(e.u, INTC_VTD_ICS, 0);
    assert_int_equal(r32(e.u, INTC_VTD_ICS), ICS_IWC);
    w32(e.u, INTC_VTD_ICS, ICS_IWC);
    assert_int_equal(r32(e.u, INTC_VTD_ICS), 0);
    env_end(&e);
}

/* iommu.h: only aligned 4- and 8-byte accesses are architectural;
   others read 0 and writes are ignored with INTC_EV_BAD_ACCESS. */
static void test_non_architectural_accesses(void **state)
{
    vt_env e;
    uint64_t v;
    env_start(&e, state, NULL);
    w32(e.u, INTC_VTD_FEDATA, 0x11223344u);

    v = 1;
    assert_int_equal(intc_iommu_mmio_read(e.u, INTC_VTD_FEDATA, 1, &v),
                     INTC_OK);
    assert_int_equal(v, 0);
    v = 1;
    assert_int_equal(intc_iommu_mmio_read(e.u, INTC_VTD_FEDATA, 2, &v),
                     INTC_OK);
    assert_int_equal(v, 0);
    v = 1;
    assert_int_equal(intc_iommu_mmio_read(e.u, INTC_VTD_VER + 1, 4, &v),
                     INTC_OK);
    assert_int_equal(v, 0);
    v = 1;
    assert_int_equal(intc_iommu_mmio_read(e.u, INTC_VTD_FEDATA, 8, &v),
                     INTC_OK); /* 8 bytes at a 4-aligned offset */
    assert_int_equal(v, 0);

    th_clear_events(e.h);
    assert_int_equal(intc_iommu_mmio_write(e.u, INTC_VTD_FEDATA, 2, 0),
                     INTC_OK);
    assert_int_equal(intc_iommu_mmio_write(e.u, INTC_VTD_FEDATA + 1, 1, 0),
                     INTC_OK);
    assert_int_equal(intc_iommu_mmio_write(e.u, INTC_VTD_GCMD + 2, 4,
                                           INTC_VTD_GCMD_IRE),
                     INTC_OK);
    th_assert_event_count(e.h, INTC_EV_BAD_ACCESS, 3);
    TH_IF_TRACED(e.h) {
        const intc_event *ev = th_find_event(e.h, INTC_EV_BAD_ACCESS,
                                             TH_ANY_CPU, TH_ANY_VECTOR);
        assert_int_equal(ev->pin, INTC_VTD_FEDATA);
        assert_int_equal(ev->data, 2);
    }
    assert_int_equal(r32(e.u, INTC_VTD_FEDATA), 0x11223344u);
    assert_int_equal(r32(e.u, INTC_VTD_GSTS), 0);
    /* Absent registers read 0 (e.g. 0x100, past the records). */
    assert_int_equal(r64(e.u, 0x100), 0);
    assert_int_equal(r32(e.u, 0xff8), 0);
    env_end(&e);
}

/* iommu.h: any offset 0..4095 with any size 1, 2, 4, 8 is handled (no
   crash, state stays consistent); beyond the page INTC_ERR_INVAL. */
static void test_hostile_access_sweep(void **state)
{
    static const unsigned sizes[] = {1, 2, 4, 8};
    static const uint64_t vals[] = {~0ull, 0, 0x5a5a5a5a5a5a5a5aull};
    vt_env e;
    env_start(&e, state, NULL);
    /* Tables and queues point into guest memory full of junk. */
    memset(kit_mem(e.h, GM_BASE, GM_SIZE), 0xa5, GM_SIZE);

    for (unsigned p = 0; p < 3; p++) {
        for (uint32_t off = 0; off < 4096; off++) {
            for (unsigned s = 0; s < 4; s++) {
                unsigned size = sizes[s];
                intc_err want = off + size > 4096 ? INTC_ERR_INVAL : INTC_OK;
                uint64_t v = 0;
                assert_int_equal(intc_iommu_mmio_read(e.u, off, size, &v),
                                 want);
                if (want == INTC_OK && (size < 4 || off % size))
                    assert_int_equal(v, 0);
                assert_int_equal(
                    intc_iommu_mmio_write(e.u, off, size, vals[p]), want);
                /* Traffic in between, whatever state the unit is in. */
                if ((off & 0xff) == 0)
                    send(&e, rmsi(off & 0x7fff, (off & 1)), off & 0xffff,
                         (uint16_t)off);
            }
        }
        vt_check(e.m);
    }
    /* The sweep did reach the unit: ignored writes were reported. */
    TH_IF_TRACED(e.h) {
        assert_true(th_count_events(e.h, INTC_EV_BAD_ACCESS) > 0);
    }
    env_end(&e);
}

/* iommu.h host misuse: NULL objects, bad sizes, off + size beyond the
   4 KiB page: INTC_ERR_INVAL. */
static void test_host_misuse_inval(void **state)
{
    vt_env e;
    uint64_t v;
    intc_irq irq;
    env_start(&e, state, NULL);

    assert_int_equal(intc_iommu_mmio_read(NULL, 0, 4, &v), INTC_ERR_INVAL);
    assert_int_equal(intc_iommu_mmio_write(NULL, 0, 4, 0), INTC_ERR_INVAL);
    assert_int_equal(intc_iommu_mmio_read(e.u, 0, 4, NULL), INTC_ERR_INVAL);
    static const unsigned bad_sizes[] = {0, 3, 5, 6, 7, 16};
    for (unsigned i = 0; i < 6; i++) {
        assert_int_equal(intc_iommu_mmio_read(e.u, 0, bad_sizes[i], &v),
                         INTC_ERR_INVAL);
        assert_int_equal(intc_iommu_mmio_write(e.u, 0, bad_sizes[i], 0),
                         INTC_ERR_INVAL);
    }
    assert_int_equal(intc_iommu_mmio_read(e.u, 4096, 4, &v), INTC_ERR_INVAL);
    assert_int_equal(intc_iommu_mmio_read(e.u, 4092, 8, &v), INTC_ERR_INVAL);
    assert_int_equal(intc_iommu_mmio_write(e.u, 4095, 2, 0), INTC_ERR_INVAL);
    assert_int_equal(intc_iommu_mmio_write(e.u, UINT32_MAX, 1, 0),
                     INTC_ERR_INVAL);
    assert_int_equal(intc_iommu_mmio_read(e.u, UINT32_MAX - 2, 4, &v),
                     INTC_ERR_INVAL);
    assert_int_equal(intc_iommu_remap(NULL, 0, rmsi(0, false), 0, &irq),
                     INTC_ERR_INVAL);
    assert_int_equal(intc_iommu_remap(e.u, 0, rmsi(0, false), 0, NULL),
                     INTC_ERR_INVAL);
    assert_int_equal(intc_irq_deliver(NULL, &irq, NULL), INTC_ERR_INVAL);
    assert_int_equal(intc_irq_deliver(e.m, NULL, NULL), INTC_ERR_INVAL);
    assert_int_equal(intc_iommu_set_table(NULL, 0, true, false),
                     INTC_ERR_INVAL);
    assert_int_equal(intc_iommu_invalidate(NULL, 0, 0), INTC_ERR_INVAL);
    /* A machine without an IOMMU has none to give. */
    intc_machine *plain = th_machine_n(e.h, 1);
    assert_null(intc_machine_iommu(plain));
    intc_machine_free(plain);
    env_end(&e);
}

/* ================================================================== */
/* Fault recording (VT-d 7.1.3 Table 7-?, 7.2.1, 11.4.14)              */
/* ================================================================== */

#define V_OK 0x40 /* vector of well-formed entries */

/*
 * Set up an entry (or request) that produces fault `reason` and send it
 * from SID_DEV.  fpd sets IRTE.FPD on the entry involved.  Returns the
 * interrupt index the hardware computes.  The table is IRT_A with 256
 * entries (S=7), xAPIC mode, CFI clear.
 */
static uint32_t provoke(vt_env *e, unsigned reason, bool fpd)
{
    uint64_t f = fpd ? IRTE_FPD : 0;
    uint32_t idx = 0x10 + (reason & 0xf);
    switch (reason) {
    case INTC_VTD_FR_RESERVED_REQ: /* SHV with data[31:16] != 0 */
        irte_put(e->h, IRT_A, idx, irte_lo(V_OK, IRTE_XDST(0)) | f, 0);
        send(e, rmsi(idx, true), 0x10000, SID_DEV);
        break;
    case INTC_VTD_FR_INDEX_RANGE: /* index 256 of a 256-entry table */
        idx = 256;
        irte_put(e->h, IRT_A, idx, irte_lo(V_OK, IRTE_XDST(0)) | f, 0);
        send(e, rmsi(idx, false), 0, SID_DEV);
        break;
    case INTC_VTD_FR_NOT_PRESENT:
        irte_put(e->h, IRT_A, idx,
                 (irte_lo(V_OK, IRTE_XDST(0)) & ~IRTE_P) | f, 0);
        send(e, rmsi(idx, false), 0, SID_DEV);
        break;
    case INTC_VTD_FR_TABLE_ACCESS: /* table outside guest memory */
        w64(e->u, INTC_VTD_IRTA, BAD_GPA | 7);
        w32(e->u, INTC_VTD_GCMD, INTC_VTD_GCMD_IRE | INTC_VTD_GCMD_SIRTP);
        send(e, rmsi(idx, false), 0, SID_DEV);
        break;
    case INTC_VTD_FR_RESERVED_IRTE: /* bit 12 */
        irte_put(e->h, IRT_A, idx,
                 irte_lo(V_OK, IRTE_XDST(0)) | 1ull << 12 | f, 0);
        send(e, rmsi(idx, false), 0, SID_DEV);
        break;
    case INTC_VTD_FR_COMPAT_BLOCKED:
        idx = 0;
        send(e, cmsi(0), V_OK, SID_DEV);
        break;
    case INTC_VTD_FR_SOURCE_ID:
        irte_put(e->h, IRT_A, idx, irte_lo(V_OK, IRTE_XDST(0)) | f,
                 IRTE_SVT(1) | IRTE_SID(SID_OTHER));
        send(e, rmsi(idx, false), 0, SID_DEV);
        break;
    case INTC_VTD_FR_PID_ACCESS:
        irte_put(e->h, IRT_A, idx, pirte_lo(V_OK, BAD_GPA) | f,
                 pirte_hi(BAD_GPA));
        send(e, rmsi(idx, false), 0, SID_DEV);
        break;
    case INTC_VTD_FR_RESERVED_PID: /* PID bit 258 */
        pid_put(e->h, PID_A, pid_ctl(0xf0, 0) | 1ull << 2);
        irte_put(e->h, IRT_A, idx, pirte_lo(V_OK, PID_A) | f,
                 pirte_hi(PID_A));
        send(e, rmsi(idx, false), 0, SID_DEV);
        break;
    default:
        fail_msg("no recipe for fault %#x", reason);
    }
    return idx;
}

static void fault_env(vt_env *e, void **state, const intc_machine_config *c)
{
    env_start(e, state, c);
    ir_enable(e->u, IRT_A, 7, false, false);
    th_clear_events(e->h);
}

/* The fault was recorded in record rec with the request's details
   (VT-d 11.4.14: FI = interrupt index in 63:48, SID, FR, F), and nothing
   reached any Local APIC. */
static void assert_recorded(vt_env *e, unsigned rec, unsigned reason,
                            uint16_t sid, uint32_t idx, bool check_fi)
{
    uint64_t lo = frr_lo(e->u, rec), hi = frr_hi(e->u, rec);
    assert_true(hi & FRR_F);
    assert_int_equal(FRR_FR(hi), reason);
    assert_int_equal(FRR_SID(hi), sid);
    if (check_fi)
        assert_int_equal(FRR_FI(lo), idx & 0xffff);
    assert_true(r32(e->u, INTC_VTD_FSTS) & FS_PPF);
    TH_IF_TRACED(e->h) {
        const intc_event *ev = th_last_event(e->h, INTC_EV_IR_FAULT);
        assert_non_null(ev);
        assert_int_equal(ev->data, reason | 1u << 8);
        assert_int_equal(ev->pin, sid);
        if (check_fi)
            assert_int_equal(ev->data2, idx);
    }
    th_assert_event_count(e->h, INTC_EV_IRR_SET, 0);
    assert_no_irr(e->m);
}

static void one_fault(void **state, unsigned reason, bool check_fi)
{
    vt_env e;
    fault_env(&e, state, NULL);
    uint32_t idx = provoke(&e, reason, false);
    assert_recorded(&e, 0, reason, SID_DEV, idx, check_fi);
    assert_int_equal(FS_FRI(r32(e.u, INTC_VTD_FSTS)), 0);
    env_end(&e);
}

/* VT-d 5.1.4.1 / 7.1.3 fault 20h: SHV=1 with data bits 31:16 set. */
static void test_fault_20_reserved_request(void **state)
{
    one_fault(state, INTC_VTD_FR_RESERVED_REQ, false);
}
/* 21h: interrupt index beyond IRTA.S (2^(S+1) entries). */
static void test_fault_21_index_range(void **state)
{
    one_fault(state, INTC_VTD_FR_INDEX_RANGE, true);
}
/* 22h: IRTE present bit clear. */
static void test_fault_22_not_present(void **state)
{
    one_fault(state, INTC_VTD_FR_NOT_PRESENT, true);
}
/* 23h: the IRTE could not be read. */
static void test_fault_23_table_access(void **state)
{
    one_fault(state, INTC_VTD_FR_TABLE_ACCESS, true);
}
/* 24h: reserved field set in the IRTE. */
static void test_fault_24_reserved_irte(void **state)
{
    one_fault(state, INTC_VTD_FR_RESERVED_IRTE, true);
}
/* 25h: compatibility-format request blocked (CFIS=0); FI 0 (brief). */
static void test_fault_25_compat_blocked(void **state)
{
    one_fault(state, INTC_VTD_FR_COMPAT_BLOCKED, true);
}
/* 26h: source-id verification failed. */
static void test_fault_26_source_id(void **state)
{
    one_fault(state, INTC_VTD_FR_SOURCE_ID, true);
}
/* 27h: posted-interrupt descriptor access failed. */
static void test_fault_27_pid_access(void **state)
{
    one_fault(state, INTC_VTD_FR_PID_ACCESS, true);
}
/* 28h: reserved field set in the posted-interrupt descriptor. */
static void test_fault_28_reserved_pid(void **state)
{
    one_fault(state, INTC_VTD_FR_RESERVED_PID, true);
}

/* VT-d 7.1.3 / 9.10 FPD: the qualified faults (22h, 24h, 26h, 27h, 28h)
   are not recorded when the IRTE's FPD is set (iommu.h: the IR_FAULT
   event is still emitted, recorded=0); the request is still blocked. */
static void test_fpd_suppresses_qualified_faults(void **state)
{
    static const unsigned q[] = {0x22, 0x24, 0x26, 0x27, 0x28};
    for (unsigned i = 0; i < 5; i++) {
        vt_env e;
        fault_env(&e, state, NULL);
        w32(e.u, INTC_VTD_FEADDR, 0xfee00000u);
        w32(e.u, INTC_VTD_FEDATA, 0xe5);
        w32(e.u, INTC_VTD_FECTL, 0);
        uint32_t idx = provoke(&e, q[i], true);
        assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
        assert_false(frr_hi(e.u, 0) & FRR_F);
        TH_IF_TRACED(e.h) {
            const intc_event *ev = th_last_event(e.h, INTC_EV_IR_FAULT);
            assert_non_null(ev);
            assert_int_equal(ev->data, q[i]); /* recorded = 0 */
            assert_int_equal(ev->data2, idx);
        }
        assert_int_equal(r32(e.u, INTC_VTD_FECTL), 0); /* no event */
        th_assert_event_count(e.h, INTC_EV_IRR_SET, 0);
        assert_no_irr(e.m);
        env_end(&e);
    }
}

/* VT-d 7.1.3: 20h, 21h and 25h are not qualified: recorded even when
   the entry the request names has FPD set. */
static void test_fpd_does_not_suppress_unqualified_faults(void **state)
{
    static const unsigned q[] = {0x20, 0x21, 0x25};
    for (unsigned i = 0; i < 3; i++) {
        vt_env e;
        fault_env(&e, state, NULL);
        uint32_t idx = provoke(&e, q[i], true);
        assert_recorded(&e, 0, q[i], SID_DEV, idx, q[i] != 0x20);
        env_end(&e);
    }
}

/* VT-d 7.2.1 / 11.4.9: faults fill the records round-robin; one that
   finds the next record still full sets PFO and is lost; while PFO is
   set nothing is recorded (brief); clearing PFO resumes recording at the
   next record in turn. */
static void test_fault_overflow_pfo(void **state)
{
    vt_env e;
    intc_machine_config cfg;
    vt_cfg(&cfg, 2);
    cfg.iommu.n_fault_regs = 2;
    fault_env(&e, state, &cfg);

    send(&e, rmsi(1, false), 0, 0x0101);
    send(&e, rmsi(2, false), 0, 0x0102);
    assert_int_equal(FRR_SID(frr_hi(e.u, 0)), 0x0101);
    assert_int_equal(FRR_FI(frr_lo(e.u, 0)), 1);
    assert_int_equal(FRR_SID(frr_hi(e.u, 1)), 0x0102);
    assert_int_equal(FRR_FI(frr_lo(e.u, 1)), 2);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), FS_PPF); /* FRI 0 */

    send(&e, rmsi(3, false), 0, 0x0103);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), FS_PPF | FS_PFO);
    th_assert_last_event(e.h, INTC_EV_IR_FAULT, data, 0x22);
    assert_int_equal(FRR_SID(frr_hi(e.u, 0)), 0x0101); /* unchanged */
    assert_int_equal(FRR_SID(frr_hi(e.u, 1)), 0x0102);

    /* A free record is not enough while PFO is set. */
    frr_clear(e.u, 0);
    send(&e, rmsi(4, false), 0, 0x0104);
    assert_false(frr_hi(e.u, 0) & FRR_F);
    th_assert_last_event(e.h, INTC_EV_IR_FAULT, data, 0x22);

    w32(e.u, INTC_VTD_FSTS, FS_PFO);
    send(&e, rmsi(5, false), 0, 0x0105);
    assert_true(frr_hi(e.u, 0) & FRR_F);
    assert_int_equal(FRR_SID(frr_hi(e.u, 0)), 0x0105);
    assert_int_equal(FRR_FI(frr_lo(e.u, 0)), 5);
    th_assert_last_event(e.h, INTC_EV_IR_FAULT, data, 0x22 | 1u << 8);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS) & FS_PFO, 0);
    assert_no_irr(e.m);
    env_end(&e);
}

/* VT-d 11.4.9 FRI / 7.2.1: after software clears F (PPF 0), the next
   fault goes to the next record in turn, and FRI names it. */
static void test_fault_clear_and_rerecord(void **state)
{
    vt_env e;
    fault_env(&e, state, NULL);
    send(&e, rmsi(1, false), 0, SID_DEV);
    assert_int_equal(FS_FRI(r32(e.u, INTC_VTD_FSTS)), 0);
    frr_clear(e.u, 0);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS) & FS_PPF, 0);

    send(&e, rmsi(2, false), 0, SID_OTHER);
    uint32_t fsts = r32(e.u, INTC_VTD_FSTS);
    assert_true(fsts & FS_PPF);
    assert_int_equal(FS_FRI(fsts), 1);
    assert_false(frr_hi(e.u, 0) & FRR_F);
    assert_true(frr_hi(e.u, 1) & FRR_F);
    assert_int_equal(FRR_SID(frr_hi(e.u, 1)), SID_OTHER);
    assert_int_equal(FRR_FI(frr_lo(e.u, 1)), 2);
    /* A further fault while PPF is set keeps FRI on the first one. */
    send(&e, rmsi(3, false), 0, SID_DEV);
    assert_int_equal(FS_FRI(r32(e.u, INTC_VTD_FSTS)), 1);
    assert_true(frr_hi(e.u, 2) & FRR_F);
    env_end(&e);
}

/* Fault event registers aimed at CPU 1, vector 0xE5. */
static void fe_program(vt_env *e, bool masked)
{
    w32(e->u, INTC_VTD_FEDATA, 0xe5);
    w32(e->u, INTC_VTD_FEADDR, (uint32_t)cmsi(1));
    w32(e->u, INTC_VTD_FEUADDR, 0);
    w32(e->u, INTC_VTD_FECTL, masked ? CTL_IM : 0);
}

/* Fault-event interrupts seen so far: IRR_SET events for vector v on CPU c
   (traced hosts only, see assert_irr_sets). */
static size_t irr_sets(vt_env *e, uint32_t c, int v)
{
    size_t n = 0;
    for (size_t i = 0; i < e->h->n_events; i++) {
        const intc_event *ev = &e->h->events[i];
        n += ev->type == INTC_EV_IRR_SET && ev->cpu == c && ev->vector == v;
    }
    return n;
}

#define assert_irr_sets(e, c, v, n)                                          \
    do {                                                                     \
        TH_IF_TRACED((e)->h) assert_int_equal(irr_sets((e), (c), (v)), (n)); \
    } while (0)

/* VT-d 7.3.1: a recorded fault with no condition already pending sends
   the fault event (FEDATA to FEADDR) when IM=0, leaving IP clear; while
   a condition (PPF) is pending, no further event. */
static void test_fault_event_delivered_once_while_pending(void **state)
{
    vt_env e;
    fault_env(&e, state, NULL);
    fe_program(&e, false);

    send(&e, rmsi(1, false), 0, SID_DEV);
    assert_true(irr(cpu(e.m, 1), 0xe5));
    assert_false(irr(cpu(e.m, 0), 0xe5));
    assert_irr_sets(&e, 1, 0xe5, 1);
    assert_int_equal(r32(e.u, INTC_VTD_FECTL), 0);

    send(&e, rmsi(2, false), 0, SID_DEV); /* PPF still set */
    assert_irr_sets(&e, 1, 0xe5, 1);
    assert_int_equal(r32(e.u, INTC_VTD_FECTL), 0);

    /* Service the conditions; the next fault is a new event. */
    assert_int_equal(intc_lapic_ack(cpu(e.m, 1)), 0xe5);
    eoi(cpu(e.m, 1));
    frr_clear(e.u, 0);
    frr_clear(e.u, 1);
    send(&e, rmsi(3, false), 0, SID_DEV);
    assert_irr_sets(&e, 1, 0xe5, 2);
    assert_true(irr(cpu(e.m, 1), 0xe5));
    env_end(&e);
}

/* VT-d 7.3.1: with IM=1 the event is held in IP; clearing IM sends it
   and clears IP. */
static void test_fault_event_masked_then_unmasked(void **state)
{
    vt_env e;
    fault_env(&e, state, NULL);
    fe_program(&e, true);

    send(&e, rmsi(1, false), 0, SID_DEV);
    assert_int_equal(r32(e.u, INTC_VTD_FECTL), CTL_IM | CTL_IP);
    assert_no_irr(e.m);
    w32(e.u, INTC_VTD_FECTL, 0);
    assert_int_equal(r32(e.u, INTC_VTD_FECTL), 0);
    assert_true(irr(cpu(e.m, 1), 0xe5));
    assert_irr_sets(&e, 1, 0xe5, 1);
    env_end(&e);
}

/* VT-d 7.3.1: servicing every condition (clearing F) while the event is
   held clears IP: unmasking then sends nothing. */
static void test_fault_event_ip_cleared_when_serviced(void **state)
{
    vt_env e;
    fault_env(&e, state, NULL);
    fe_program(&e, true);

    send(&e, rmsi(1, false), 0, SID_DEV);
    assert_int_equal(r32(e.u, INTC_VTD_FECTL), CTL_IM | CTL_IP);
    frr_clear(e.u, 0);
    assert_int_equal(r32(e.u, INTC_VTD_FECTL), CTL_IM);
    w32(e.u, INTC_VTD_FECTL, 0);
    assert_no_irr(e.m);
    assert_irr_sets(&e, 1, 0xe5, 0);
    env_end(&e);
}

/* VT-d 7.3.1: a pending IQE counts as a pending condition: a fault
   recorded meanwhile sends no new event. */
static void test_fault_event_suppressed_by_pending_iqe(void **state)
{
    vt_env e;
    fault_env(&e, state, NULL);
    fe_program(&e, false);
    iq_enable(e.u, INTC_VTD_GCMD_IRE);
    desc_put(e.h, 0, 0, 0); /* bad type */
    w64(e.u, INTC_VTD_IQT, 16);
    assert_true(r32(e.u, INTC_VTD_FSTS) & FS_IQE);
    assert_irr_sets(&e, 1, 0xe5, 1); /* the IQE event */
    assert_int_equal(intc_lapic_ack(cpu(e.m, 1)), 0xe5);
    eoi(cpu(e.m, 1));

    send(&e, rmsi(1, false), 0, SID_DEV);
    assert_true(frr_hi(e.u, 0) & FRR_F);
    assert_irr_sets(&e, 1, 0xe5, 1);
    env_end(&e);
}

/* ================================================================== */
/* Invalidation queue (VT-d 6.5.2, 11.4.18-11.4.22)                    */
/* ================================================================== */

/* VT-d 6.5.2.8: a wait descriptor with SW writes its status data to the
   status address; IQH follows IQT (11.4.19). */
static void test_iq_wait_writes_status(void **state)
{
    vt_env e;
    env_start(&e, state, NULL);
    iq_enable(e.u, 0);
    desc_put(e.h, 0, wait_lo(false, true, 0xcafe0001u), STATUS_A);
    desc_put(e.h, 1, wait_lo(false, true, 2), STATUS_A + 8);
    w64(e.u, INTC_VTD_IQT, 32);
    assert_int_equal(gm_r32(e.h, STATUS_A), 0xcafe0001u);
    assert_int_equal(gm_r32(e.h, STATUS_A + 8), 2);
    assert_int_equal(r64(e.u, INTC_VTD_IQH), 32);
    assert_int_equal(r64(e.u, INTC_VTD_IQT), 32);
    assert_int_equal(r32(e.u, INTC_VTD_ICS), 0);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    /* Wrap-around: tail back to 0 after the last slot. */
    for (unsigned i = 2; i < 256; i++)
        desc_put(e.h, i, wait_lo(false, true, i), STATUS_A + 16);
    desc_put(e.h, 0, wait_lo(false, true, 0x77), STATUS_A + 24);
    w64(e.u, INTC_VTD_IQT, 0);
    assert_int_equal(r64(e.u, INTC_VTD_IQH), 0);
    assert_int_equal(gm_r32(e.h, STATUS_A + 16), 255);
    w64(e.u, INTC_VTD_IQT, 16);
    assert_int_equal(gm_r32(e.h, STATUS_A + 24), 0x77);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    env_end(&e);
}

/* VT-d 6.5.2.8 / 6.5.2.11: IF sets ICS.IWC and raises the invalidation
   completion event (IEDATA to IEADDR) with the IM/IP rules; no new event
   while IWC is still set; clearing IWC clears IP. */
static void test_iq_wait_interrupt_event(void **state)
{
    vt_env e;
    env_start(&e, state, NULL);
    w32(e.u, INTC_VTD_IEDATA, 0xe6);
    w32(e.u, INTC_VTD_IEADDR, (uint32_t)cmsi(0));
    w32(e.u, INTC_VTD_IECTL, 0);
    iq_enable(e.u, 0);

    desc_put(e.h, 0, wait_lo(true, false, 0), 0);
    w64(e.u, INTC_VTD_IQT, 16);
    assert_int_equal(r32(e.u, INTC_VTD_ICS), ICS_IWC);
    assert_true(irr(cpu(e.m, 0), 0xe6));
    assert_irr_sets(&e, 0, 0xe6, 1);
    assert_int_equal(r32(e.u, INTC_VTD_IECTL), 0);

    desc_put(e.h, 1, wait_lo(true, false, 0), 0);
    w64(e.u, INTC_VTD_IQT, 32);
    assert_irr_sets(&e, 0, 0xe6, 1); /* IWC still set */

    /* Masked: held in IP until IM is cleared. */
    assert_int_equal(intc_lapic_ack(cpu(e.m, 0)), 0xe6);
    eoi(cpu(e.m, 0));
    w32(e.u, INTC_VTD_ICS, ICS_IWC);
    w32(e.u, INTC_VTD_IECTL, CTL_IM);
    desc_put(e.h, 2, wait_lo(true, false, 0), 0);
    w64(e.u, INTC_VTD_IQT, 48);
    assert_int_equal(r32(e.u, INTC_VTD_IECTL), CTL_IM | CTL_IP);
    assert_irr_sets(&e, 0, 0xe6, 1);
    w32(e.u, INTC_VTD_IECTL, 0);
    assert_irr_sets(&e, 0, 0xe6, 2);
    assert_int_equal(r32(e.u, INTC_VTD_IECTL), 0);

    /* Masked, then serviced (IWC cleared): IP clears, nothing sent. */
    w32(e.u, INTC_VTD_ICS, ICS_IWC);
    w32(e.u, INTC_VTD_IECTL, CTL_IM);
    desc_put(e.h, 3, wait_lo(true, false, 0), 0);
    w64(e.u, INTC_VTD_IQT, 64);
    assert_int_equal(r32(e.u, INTC_VTD_IECTL), CTL_IM | CTL_IP);
    w32(e.u, INTC_VTD_ICS, ICS_IWC);
    assert_int_equal(r32(e.u, INTC_VTD_IECTL), CTL_IM);
    w32(e.u, INTC_VTD_IECTL, 0);
    assert_irr_sets(&e, 0, 0xe6, 2);
    env_end(&e);
}

/* Run one bad descriptor between two good wait descriptors and check the
   IQE behaviour (VT-d 6.5.2.10): FSTS.IQE (+ fault event), IQH stays at
   the bad descriptor, the one after it is not processed. */
static void iq_error_case(void **state, uint64_t bad_lo, uint64_t bad_hi)
{
    vt_env e;
    env_start(&e, state, NULL);
    fe_program(&e, false);
    iq_enable(e.u, 0);
    desc_put(e.h, 0, wait_lo(false, true, 1), STATUS_A);
    desc_put(e.h, 1, bad_lo, bad_hi);
    desc_put(e.h, 2, wait_lo(false, true, 3), STATUS_A + 8);
    th_clear_events(e.h);
    w64(e.u, INTC_VTD_IQT, 48);

    assert_int_equal(gm_r32(e.h, STATUS_A), 1);
    assert_int_equal(gm_r32(e.h, STATUS_A + 8), 0);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), FS_IQE);
    assert_int_equal(r64(e.u, INTC_VTD_IQH), 16);
    th_assert_event_count(e.h, INTC_EV_IR_QUEUE_ERROR, 1);
    assert_true(irr(cpu(e.m, 1), 0xe5));

    /* Stuck: a new tail write processes nothing. */
    w64(e.u, INTC_VTD_IQT, 48);
    assert_int_equal(r64(e.u, INTC_VTD_IQH), 16);
    assert_int_equal(gm_r32(e.h, STATUS_A + 8), 0);

    /* Fix the descriptor, clear IQE, resume from the head. */
    desc_put(e.h, 1, iec_global(), 0);
    w32(e.u, INTC_VTD_FSTS, FS_IQE);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    w64(e.u, INTC_VTD_IQT, 48);
    assert_int_equal(r64(e.u, INTC_VTD_IQH), 48);
    assert_int_equal(gm_r32(e.h, STATUS_A + 8), 3);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    env_end(&e);
}

/* VT-d 6.5.2.10: an unknown descriptor type (0, 8, 15, and type bits
   11:9 set) is an invalidation queue error. */
static void test_iq_error_bad_type(void **state)
{
    iq_error_case(state, 0, 0);
    iq_error_case(state, 8, 0);
    iq_error_case(state, 15, 0);
    iq_error_case(state, 4 | 1u << 9, 0);
}

/* VT-d 6.5.2.7 / 6.5.2.10: reserved bits in an IEC descriptor (8:5,
   26:12, 63:48, the high qword) are an invalidation queue error. */
static void test_iq_error_iec_reserved_bits(void **state)
{
    iq_error_case(state, iec_global() | 1u << 5, 0);
    iq_error_case(state, iec_global() | 1u << 12, 0);
    iq_error_case(state, iec_global() | 1u << 26, 0);
    iq_error_case(state, iec_global() | 1ull << 48, 0);
    iq_error_case(state, iec_global(), 1);
}

/* VT-d 6.5.2.10: a wait descriptor whose status write fails (DMA error)
   is an invalidation queue error. */
static void test_iq_error_status_write_fails(void **state)
{
    iq_error_case(state, wait_lo(false, true, 9), BAD_GPA);
}

/* VT-d 6.5.2.10: the queue itself unreadable (IQA outside memory). */
static void test_iq_error_queue_unreadable(void **state)
{
    vt_env e;
    env_start(&e, state, NULL);
    w64(e.u, INTC_VTD_IQA, BAD_GPA);
    w32(e.u, INTC_VTD_GCMD, INTC_VTD_GCMD_QIE);
    w64(e.u, INTC_VTD_IQT, 16);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), FS_IQE);
    assert_int_equal(r64(e.u, INTC_VTD_IQH), 0);
    env_end(&e);
}

/* VT-d 11.4.20 / 6.5.2.10: a tail beyond the queue size (QS=0: 256
   128-bit descriptors, offsets below 0x1000) is an error; the head does
   not move. */
static void test_iq_error_tail_beyond_queue(void **state)
{
    vt_env e;
    env_start(&e, state, NULL);
    iq_enable(e.u, 0);
    desc_put(e.h, 0, wait_lo(false, true, 1), STATUS_A);
    w64(e.u, INTC_VTD_IQT, 0x1000);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), FS_IQE);
    assert_int_equal(r64(e.u, INTC_VTD_IQH), 0);
    assert_int_equal(gm_r32(e.h, STATUS_A), 0);
    /* QS=1 (8 KiB) makes the same tail legal. */
    w32(e.u, INTC_VTD_FSTS, FS_IQE);
    w64(e.u, INTC_VTD_IQA, IQ_BASE | 1);
    for (unsigned i = 0; i < 256; i++)
        desc_put(e.h, i, 2 /* IOTLB invalidate: no-op */, 0);
    w64(e.u, INTC_VTD_IQT, 0x1000);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    assert_int_equal(r64(e.u, INTC_VTD_IQH), 0x1000);
    env_end(&e);
}

/* Brief: descriptor types 1-3, 6, 7 (context-cache, IOTLB, device-TLB,
   PASID) complete without effect. */
static void test_iq_dma_types_are_noops(void **state)
{
    static const uint64_t t[] = {1, 2, 3, 6, 7};
    vt_env e;
    env_start(&e, state, NULL);
    iq_enable(e.u, 0);
    for (unsigned i = 0; i < 5; i++)
        desc_put(e.h, i, t[i], 0);
    w64(e.u, INTC_VTD_IQT, 80);
    assert_int_equal(r64(e.u, INTC_VTD_IQH), 80);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    env_end(&e);
}

/* VT-d 11.4.21 (IQA.DW) / 6.5.2: 256-bit descriptors, 32 bytes apart;
   a tail with bit 4 set is an error in that mode. */
static void test_iq_256bit_descriptors(void **state)
{
    vt_env e;
    env_start(&e, state, NULL);
    w64(e.u, INTC_VTD_IQA, IQ_BASE | 1u << 11);
    w32(e.u, INTC_VTD_GCMD, INTC_VTD_GCMD_QIE);
    gm_w64(e.h, IQ_BASE, wait_lo(false, true, 7));
    gm_w64(e.h, IQ_BASE + 8, STATUS_A);
    gm_w64(e.h, IQ_BASE + 32, wait_lo(false, true, 8));
    gm_w64(e.h, IQ_BASE + 40, STATUS_A + 8);
    w64(e.u, INTC_VTD_IQT, 64);
    assert_int_equal(gm_r32(e.h, STATUS_A), 7);
    assert_int_equal(gm_r32(e.h, STATUS_A + 8), 8);
    assert_int_equal(r64(e.u, INTC_VTD_IQH), 64);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    w64(e.u, INTC_VTD_IQT, 64 + 16);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), FS_IQE);
    assert_int_equal(r64(e.u, INTC_VTD_IQH), 64);
    env_end(&e);
}

/* Brief / 11.4.21: writing IQA resets IQH and IQT; enabling QIE resets
   IQH; a tail written while the queue is disabled is not processed. */
static void test_iqa_write_and_qie_reset_head(void **state)
{
    vt_env e;
    env_start(&e, state, NULL);
    w64(e.u, INTC_VTD_IQA, IQ_BASE);
    desc_put(e.h, 0, wait_lo(false, true, 5), STATUS_A);
    w64(e.u, INTC_VTD_IQT, 16); /* QIE off */
    assert_int_equal(gm_r32(e.h, STATUS_A), 0);
    assert_int_equal(r64(e.u, INTC_VTD_IQH), 0);
    w32(e.u, INTC_VTD_GCMD, INTC_VTD_GCMD_QIE);
    w64(e.u, INTC_VTD_IQT, 16);
    assert_int_equal(gm_r32(e.h, STATUS_A), 5);
    assert_int_equal(r64(e.u, INTC_VTD_IQH), 16);
    w64(e.u, INTC_VTD_IQA, IQ_BASE);
    assert_int_equal(r64(e.u, INTC_VTD_IQH), 0);
    assert_int_equal(r64(e.u, INTC_VTD_IQT), 0);
    env_end(&e);
}

/* ================================================================== */
/* Interrupt entry cache (VT-d 6.5.2.7, brief)                         */
/* ================================================================== */

static void cache_env(vt_env *e, void **state, const intc_machine_config *c)
{
    env_start(e, state, c);
    for (unsigned i = 0; i < 16; i++)
        irte_put(e->h, IRT_A, i, irte_lo((uint8_t)(0x40 + i), IRTE_XDST(0)),
                 0);
    ir_enable(e->u, IRT_A, 7, false, false);
}

/* Rewrite entries first..last with vectors 0x60 + index. */
static void rewrite(vt_env *e, unsigned first, unsigned last)
{
    for (unsigned i = first; i <= last; i++)
        irte_put(e->h, IRT_A, i, irte_lo((uint8_t)(0x60 + i), IRTE_XDST(0)),
                 0);
}

/* VT-d 6.5.2.7: hardware may keep using a cached IRTE after software
   rewrote it, until software invalidates it. */
static void test_iec_stale_entry_used_until_invalidated(void **state)
{
    vt_env e;
    cache_env(&e, state, NULL);
    assert_int_equal(remapped_vec(&e, rmsi(4, false), 0, SID_DEV), 0x44);
    rewrite(&e, 4, 4);
    assert_int_equal(remapped_vec(&e, rmsi(4, false), 0, SID_DEV), 0x44);
    assert_false(irr(cpu(e.m, 0), 0x64));
    /* Even a not-present rewrite goes unnoticed. */
    irte_put(e.h, IRT_A, 4, 0, 0);
    assert_int_equal(remapped_vec(&e, rmsi(4, false), 0, SID_DEV), 0x44);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    env_end(&e);
}

/* VT-d 6.5.2.7: a global IEC invalidation (G=0) through the queue drops
   every cached entry. */
static void test_iec_global_invalidation_via_queue(void **state)
{
    vt_env e;
    cache_env(&e, state, NULL);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(remapped_vec(&e, rmsi(i, false), 0, SID_DEV),
                         0x40 + (int)i);
    rewrite(&e, 0, 7);
    iq_enable(e.u, INTC_VTD_GCMD_IRE);
    desc_put(e.h, 0, iec_global(), 0);
    th_clear_events(e.h);
    w64(e.u, INTC_VTD_IQT, 16);
    TH_IF_TRACED(e.h) {
        const intc_event *ev = th_last_event(e.h, INTC_EV_IR_INVALIDATE);
        assert_non_null(ev);
        assert_int_equal(ev->data2, INTC_IOMMU_INV_ALL);
    }
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(remapped_vec(&e, rmsi(i, false), 0, SID_DEV),
                         0x60 + (int)i);
    env_end(&e);
}

/* VT-d 6.5.2.7: index-selective (G=1) invalidation drops 2^IM entries
   aligned on 2^IM around IIDX, and nothing else. */
static void test_iec_index_selective_invalidation(void **state)
{
    vt_env e;
    cache_env(&e, state, NULL);
    for (unsigned i = 0; i < 10; i++)
        remapped_vec(&e, rmsi(i, false), 0, SID_DEV);
    rewrite(&e, 0, 9);
    iq_enable(e.u, INTC_VTD_GCMD_IRE);
    desc_put(e.h, 0, iec_index(5, 2), 0); /* 4..7 */
    desc_put(e.h, 1, iec_index(9, 0), 0); /* 9 */
    w64(e.u, INTC_VTD_IQT, 32);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    static const int want[10] = {0x40, 0x41, 0x42, 0x43, 0x64,
                                 0x65, 0x66, 0x67, 0x48, 0x69};
    for (unsigned i = 0; i < 10; i++)
        assert_int_equal(remapped_vec(&e, rmsi(i, false), 0, SID_DEV),
                         want[i]);
    env_end(&e);
}

/* iommu.h intc_iommu_invalidate: 2^index_mask entries from index
   (aligned down), or INTC_IOMMU_INV_ALL. */
static void test_iec_engine_invalidate(void **state)
{
    vt_env e;
    cache_env(&e, state, NULL);
    for (unsigned i = 0; i < 8; i++)
        remapped_vec(&e, rmsi(i, false), 0, SID_DEV);
    rewrite(&e, 0, 7);
    assert_int_equal(intc_iommu_invalidate(e.u, 3, 1), INTC_OK); /* 2,3 */
    static const int want[8] = {0x40, 0x41, 0x62, 0x63,
                                0x44, 0x45, 0x46, 0x47};
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(remapped_vec(&e, rmsi(i, false), 0, SID_DEV),
                         want[i]);
    assert_int_equal(intc_iommu_invalidate(e.u, INTC_IOMMU_INV_ALL, 0),
                     INTC_OK);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(remapped_vec(&e, rmsi(i, false), 0, SID_DEV),
                         0x60 + (int)i);
    env_end(&e);
}

/* Brief: the cache is direct-mapped (index mod cache_entries); with one
   line, using another index evicts the stale entry. */
static void test_iec_single_line_eviction(void **state)
{
    vt_env e;
    intc_machine_config cfg;
    vt_cfg(&cfg, 2);
    cfg.iommu.cache_entries = 1;
    cache_env(&e, state, &cfg);
    assert_int_equal(remapped_vec(&e, rmsi(0, false), 0, SID_DEV), 0x40);
    rewrite(&e, 0, 0);
    assert_int_equal(remapped_vec(&e, rmsi(0, false), 0, SID_DEV), 0x40);
    assert_int_equal(remapped_vec(&e, rmsi(1, false), 0, SID_DEV), 0x41);
    assert_int_equal(remapped_vec(&e, rmsi(0, false), 0, SID_DEV), 0x60);
    env_end(&e);
}

/* Brief / VT-d 6.5.2.7: SIRTP does not flush the entry cache; software
   invalidates after switching tables. */
static void test_iec_not_flushed_by_sirtp(void **state)
{
    vt_env e;
    cache_env(&e, state, NULL);
    irte_put(e.h, IRT_B, 1, irte_lo(0x71, IRTE_XDST(0)), 0);
    assert_int_equal(remapped_vec(&e, rmsi(1, false), 0, SID_DEV), 0x41);
    w64(e.u, INTC_VTD_IRTA, IRT_B | 7);
    w32(e.u, INTC_VTD_GCMD, INTC_VTD_GCMD_IRE | INTC_VTD_GCMD_SIRTP);
    assert_int_equal(remapped_vec(&e, rmsi(1, false), 0, SID_DEV), 0x41);
    assert_int_equal(intc_iommu_invalidate(e.u, INTC_IOMMU_INV_ALL, 0),
                     INTC_OK);
    assert_int_equal(remapped_vec(&e, rmsi(1, false), 0, SID_DEV), 0x71);
    env_end(&e);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, th_setup, th_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* registers */
        T(test_reset_values),
        T(test_machine_reset_restores_registers),
        T(test_machine_reset_flushes_entry_cache),
        T(test_cap_ecap_follow_config),
        T(test_gcmd_persistent_bits_follow_write),
        T(test_gcmd_sirtp_srtp_one_shot),
        T(test_irta_takes_effect_only_at_sirtp),
        T(test_eime_not_settable_without_x2apic),
        T(test_fectl_iectl_and_event_registers),
        T(test_fsts_rw1c),
        T(test_frr_f_rw1c),
        T(test_ics_iwc_rw1c),
        T(test_non_architectural_accesses),
        T(test_hostile_access_sweep),
        T(test_host_misuse_inval),
        /* fault recording */
        T(test_fault_20_reserved_request),
        T(test_fault_21_index_range),
        T(test_fault_22_not_present),
        T(test_fault_23_table_access),
        T(test_fault_24_reserved_irte),
        T(test_fault_25_compat_blocked),
        T(test_fault_26_source_id),
        T(test_fault_27_pid_access),
        T(test_fault_28_reserved_pid),
        T(test_fpd_suppresses_qualified_faults),
        T(test_fpd_does_not_suppress_unqualified_faults),
        T(test_fault_overflow_pfo),
        T(test_fault_clear_and_rerecord),
        T(test_fault_event_delivered_once_while_pending),
        T(test_fault_event_masked_then_unmasked),
        T(test_fault_event_ip_cleared_when_serviced),
        T(test_fault_event_suppressed_by_pending_iqe),
        /* invalidation queue */
        T(test_iq_wait_writes_status),
        T(test_iq_wait_interrupt_event),
        T(test_iq_error_bad_type),
        T(test_iq_error_iec_reserved_bits),
        T(test_iq_error_status_write_fails),
        T(test_iq_error_queue_unreadable),
        T(test_iq_error_tail_beyond_queue),
        T(test_iq_dma_types_are_noops),
        T(test_iq_256bit_descriptors),
        T(test_iqa_write_and_qie_reset_head),
        /* entry cache */
        T(test_iec_stale_entry_used_until_invalidated),
        T(test_iec_global_invalidation_via_queue),
        T(test_iec_index_selective_invalidation),
        T(test_iec_engine_invalidate),
        T(test_iec_single_line_eviction),
        T(test_iec_not_flushed_by_sirtp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
