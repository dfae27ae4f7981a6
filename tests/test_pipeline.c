/*
 * The message pipeline's outcome (include/intc/common.h intc_delivery):
 * every intc_delivery_status from intc_msi_send(), intc_msix_notify(),
 * intc_msi_notify() and intc_irq_deliver(), each asserted through the
 * returned outcome and the architectural state, never only through an
 * event; the VT-d unit's own event messages written to an address that
 * is not an interrupt address (SDM 11.11.1: a memory write, delivered to
 * no APIC); a level IOAPIC pin remapped to a posted-interrupt descriptor
 * (Remote IRR set by the post, re-posted only at the entry's EOI); and
 * the IOAPIC EOI path across the two words of its pin index.
 *
 * Authorities: Intel SDM vol. 3A ch. 11 ("SDM x.y"), Intel VT-d
 * Architecture Specification ("VT-d x.y"), Intel 82093AA I/O APIC
 * datasheet ("82093AA x.y"), PCI Local Bus 3.0 6.8 and PCIe base 7.7.2
 * for MSI/MSI-X, and the documented libintc choices (common.h, msi.h,
 * iommu.h).
 */
#include "ioapic_util.h"
#include "vtd_util.h"

#define SID_DEV 0x0100u  /* 01:00.0 */
#define SID_IOAPIC 0x00f8u
#define NV 0xf2          /* posted-interrupt notification vector */

/* Fill with a pattern first, so every field the call must write is
   checked. */
static void poison(intc_delivery *d)
{
    memset(d, 0xa5, sizeof(*d));
}

#define NO_IRTE UINT32_MAX

/* intc_msi_send() with the outcome; returns the error code. */
static intc_err msend(intc_machine *m, uint64_t addr, uint32_t data,
                      intc_delivery *d)
{
    poison(d);
    return intc_msi_send(m, addr, data, SID_DEV, d);
}

/* Flat logical model (SDM 11.6.2.2): DFR all ones, LDR[31:24] = bits. */
static void set_flat(intc_lapic *l, uint8_t bits)
{
    lw(l, INTC_LAPIC_DFR, 0xffffffffu);
    lw(l, INTC_LAPIC_LDR, (uint32_t)bits << 24);
}

static void check(intc_machine *m)
{
    char msg[256] = "";
    if (intc_machine_check(m, msg, sizeof(msg)) != INTC_OK)
        fail_msg("intc_machine_check: %s", msg);
}

/* 2 CPUs (IDs 0, 1), xAPIC, VT-d remapping on with IRT_A of 256
   entries (IRTA.S = 7), compatibility format blocked (CFI=0). */
static void xenv(vt_env *e, void **state)
{
    intc_machine_config cfg;
    vt_cfg(&cfg, 2);
    env_start(e, state, &cfg);
    ir_enable(e->u, IRT_A, 7, false, false);
}

/* ================================================================== */
/* ACCEPTED                                                            */
/* ================================================================== */

/* SDM 11.11.1, 11.6.2.1: a physical fixed message is accepted by the
   one APIC with that ID; a physical 0xFF is a broadcast every APIC
   accepts; SDM 11.6.2.2: a logical flat destination names every APIC
   with an LDR bit in the MDA; 11.6.2.4: lowest priority (DM 001b, or RH=1
   on a fixed message, 11.11.1) is accepted by exactly one of them.
   n_cpus counts the acceptors; irte is UINT32_MAX without remapping. */
static void test_accepted_counts_acceptors(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 4);
    intc_delivery d;
    sw_enable_all(m);
    set_flat(cpu(m, 0), 0x01);
    set_flat(cpu(m, 1), 0x02);
    set_flat(cpu(m, 2), 0x04);
    set_flat(cpu(m, 3), 0x08);

    /* Physical, one APIC. */
    assert_int_equal(msend(m, cmsi(2), 0x41, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_ACCEPTED, 0, 1, NO_IRTE);
    assert_true(irr(cpu(m, 2), 0x41));
    for (uint32_t c = 0; c < 4; c++)
        if (c != 2)
            assert_false(irr(cpu(m, c), 0x41));

    /* Logical MDA 0x07: CPUs 0, 1, 2. */
    uint64_t logical7 = INTC_MSI_ADDR_BASE | 0x07u << 12 |
                        INTC_MSI_ADDR_LOGICAL;
    assert_int_equal(msend(m, logical7, 0x42, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_ACCEPTED, 0, 3, NO_IRTE);
    for (uint32_t c = 0; c < 3; c++)
        assert_true(irr(cpu(m, c), 0x42));
    assert_false(irr(cpu(m, 3), 0x42));

    /* Lowest priority among the same three: one winner. */
    assert_int_equal(msend(m, logical7, 0x43 | 1u << 8, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_ACCEPTED, 0, 1, NO_IRTE);
    unsigned got = 0;
    for (uint32_t c = 0; c < 4; c++)
        got += (unsigned)irr(cpu(m, c), 0x43);
    assert_int_equal(got, 1);
    assert_false(irr(cpu(m, 3), 0x43));

    /* RH=1 on a fixed message: lowest priority too. */
    assert_int_equal(msend(m, logical7 | INTC_MSI_ADDR_RH, 0x44, &d),
                     INTC_OK);
    assert_delivery(d, INTC_DELIVERY_ACCEPTED, 0, 1, NO_IRTE);
    got = 0;
    for (uint32_t c = 0; c < 4; c++)
        got += (unsigned)irr(cpu(m, c), 0x44);
    assert_int_equal(got, 1);

    /* Physical broadcast 0xFF: all four. */
    assert_int_equal(msend(m, cmsi(0xff), 0x45, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_ACCEPTED, 0, 4, NO_IRTE);
    for (uint32_t c = 0; c < 4; c++)
        assert_true(irr(cpu(m, c), 0x45));

    /* NMI (SDM 11.11.2 DM 100b) to one APIC: accepted, pending NMI. */
    assert_int_equal(msend(m, cmsi(1), 4u << 8, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_ACCEPTED, 0, 1, NO_IRTE);
    assert_true(intc_lapic_pending(cpu(m, 1)) & INTC_PEND_NMI);
    assert_false(intc_lapic_pending(cpu(m, 0)) & INTC_PEND_NMI);

    /* Level assert (data bits 15:14 = 11b) is a valid message. */
    assert_int_equal(msend(m, cmsi(3), 0x46 | 0xc000u, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_ACCEPTED, 0, 1, NO_IRTE);
    assert_true(irr(cpu(m, 3), 0x46));
    assert_true(tmr(cpu(m, 3), 0x46));

    /* out may be NULL: same delivery. */
    assert_int_equal(intc_msi_send(m, cmsi(0), 0x47, SID_DEV, NULL),
                     INTC_OK);
    assert_true(irr(cpu(m, 0), 0x47));
    check(m);
    intc_machine_free(m);
}

/* ================================================================== */
/* NO_TARGET                                                           */
/* ================================================================== */

/* common.h NO_TARGET: a valid message that no APIC accepted: no APIC
   has the destination ID; SDM 11.4.7.2: a software-disabled APIC accepts
   no fixed interrupt; SDM 11.5.3: vectors 0-15 are illegal.  A logical
   destination where one named APIC is disabled counts only the others. */
static void test_no_target(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 3);
    intc_delivery d;
    /* CPU 2 stays software-disabled (SVR[8] = 0 after RESET). */
    sw_enable(cpu(m, 0));
    sw_enable(cpu(m, 1));
    set_flat(cpu(m, 0), 0x01);
    set_flat(cpu(m, 1), 0x02);
    set_flat(cpu(m, 2), 0x04);

    /* No APIC with ID 9. */
    assert_int_equal(msend(m, cmsi(9), 0x41, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_NO_TARGET, 0, 0, NO_IRTE);
    th_assert_event(h, INTC_EV_NO_TARGET, INTC_NO_CPU, 0x41);

    /* The software-disabled APIC 2. */
    assert_int_equal(msend(m, cmsi(2), 0x42, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_NO_TARGET, 0, 0, NO_IRTE);
    th_assert_event(h, INTC_EV_REJECTED, 2, 0x42);

    /* An illegal vector to an enabled APIC. */
    assert_int_equal(msend(m, cmsi(0), 0x05, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_NO_TARGET, 0, 0, NO_IRTE);
    assert_no_irr(m);

    /* Logical 0x07: CPUs 0 and 1 accept, CPU 2 refuses. */
    assert_int_equal(msend(m, INTC_MSI_ADDR_BASE | 0x07u << 12 |
                                  INTC_MSI_ADDR_LOGICAL,
                           0x43, &d),
                     INTC_OK);
    assert_delivery(d, INTC_DELIVERY_ACCEPTED, 0, 2, NO_IRTE);
    assert_true(irr(cpu(m, 0), 0x43));
    assert_true(irr(cpu(m, 1), 0x43));
    /* Lowest priority among {2} only: nobody. */
    assert_int_equal(msend(m, INTC_MSI_ADDR_BASE | 0x04u << 12 |
                                  INTC_MSI_ADDR_LOGICAL,
                           0x44 | 1u << 8, &d),
                     INTC_OK);
    assert_delivery(d, INTC_DELIVERY_NO_TARGET, 0, 0, NO_IRTE);
    assert_false(irr(cpu(m, 0), 0x44));
    assert_false(irr(cpu(m, 1), 0x44));
    check(m);
    intc_machine_free(m);
}

/* ================================================================== */
/* DROPPED                                                             */
/* ================================================================== */

/* The reason in the outcome and, traced, in INTC_EV_MSI_DROPPED. */
static void assert_dropped(th_host *h, const intc_delivery *d,
                           unsigned why)
{
    assert_delivery(*d, INTC_DELIVERY_DROPPED, why, 0, NO_IRTE);
    TH_IF_TRACED(h) {
        const intc_event *ev = th_last_event(h, INTC_EV_MSI_DROPPED);
        assert_non_null(ev);
        assert_int_equal(ev->data2 >> 32, why);
    }
}

/* SDM 11.11.1: a write outside 0xFEExxxxx is not an interrupt message:
   INTC_ERR_NOT_DECODED (the host performs the memory write) and DROPPED
   NOT_INTERRUPT.  SDM 11.11.2 (Figure 11-25): data bits 31:16 reserved;
   delivery modes 011b and 110b reserved for messages; a level-triggered
   message with level 0 is a de-assert the APICs ignore.  None of them
   reaches an APIC. */
static void test_dropped_decode_reasons(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_delivery d;
    sw_enable_all(m);

    static const uint64_t not_fee[] = {0x12345000u, 0xfef00000u,
                                       0xfed00000u, 0x1fee00000ull, 0};
    for (unsigned i = 0; i < sizeof(not_fee) / sizeof(not_fee[0]); i++) {
        assert_int_equal(msend(m, not_fee[i], 0x41, &d),
                         INTC_ERR_NOT_DECODED);
        assert_dropped(h, &d, INTC_MSI_DROP_NOT_INTERRUPT);
    }
    assert_int_equal(msend(m, cmsi(0), 0x10041u, &d), INTC_OK);
    assert_dropped(h, &d, INTC_MSI_DROP_RESERVED_DATA);
    assert_int_equal(msend(m, cmsi(0), 0x41 | 3u << 8, &d), INTC_OK);
    assert_dropped(h, &d, INTC_MSI_DROP_RESERVED_MODE);
    assert_int_equal(msend(m, cmsi(0), 0x41 | 6u << 8, &d), INTC_OK);
    assert_dropped(h, &d, INTC_MSI_DROP_RESERVED_MODE);
    /* Level (bit 15), de-assert (bit 14 = 0). */
    assert_int_equal(msend(m, cmsi(0), 0x41 | 0x8000u, &d), INTC_OK);
    assert_dropped(h, &d, INTC_MSI_DROP_DEASSERT);
    /* out NULL: dropped all the same. */
    assert_int_equal(intc_msi_send(m, 0x12345000u, 0x41, SID_DEV, NULL),
                     INTC_ERR_NOT_DECODED);
    assert_no_irr(m);
    for (uint32_t c = 0; c < 2; c++)
        assert_int_equal(intc_lapic_pending(cpu(m, c)), 0);
    th_assert_event_count(h, INTC_EV_IRR_SET, 0);
    check(m);
    intc_machine_free(m);
}

/* machine.h msi_ext_dest=false: address bits 11:5 must be 0, a message
   with any of them set is dropped RESERVED_ADDR; with msi_ext_dest (the
   default) the same bits are destination 14:8 and the message is valid
   (here to an ID nobody has: NO_TARGET, not dropped). */
static void test_dropped_ext_dest_bits(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    intc_delivery d;
    intc_machine_config_init(&cfg);
    cfg.n_cpus = 2;
    cfg.msi_ext_dest = false;
    intc_machine *m = th_machine(h, &cfg);
    sw_enable_all(m);
    for (unsigned b = 5; b <= 11; b++) {
        assert_int_equal(msend(m, cmsi(0) | 1u << b, 0x41, &d), INTC_OK);
        assert_dropped(h, &d, INTC_MSI_DROP_RESERVED_ADDR);
    }
    assert_no_irr(m);
    /* Bits 11:5 clear: delivered. */
    assert_int_equal(msend(m, cmsi(0), 0x41, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_ACCEPTED, 0, 1, NO_IRTE);
    check(m);
    intc_machine_free(m);

    cfg.msi_ext_dest = true;
    m = th_machine(h, &cfg);
    sw_enable_all(m);
    assert_int_equal(msend(m, cmsi(0) | 1u << 5, 0x41, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_NO_TARGET, 0, 0, NO_IRTE);
    assert_no_irr(m);
    check(m);
    intc_machine_free(m);
}

/* VT-d 5.1.2.2: the remappable format (address bit 4) is for remapping
   hardware; with no IOMMU, or with one whose remapping is disabled, the
   message is dropped NO_REMAPPING and reaches no APIC (whatever handle
   bits 19:5 would decode to as a destination). */
static void test_dropped_remappable_without_remapping(void **state)
{
    th_host *h = *state;
    intc_delivery d;
    intc_machine *m = th_machine_n(h, 2);
    sw_enable_all(m);
    assert_int_equal(msend(m, rmsi(0, false), 0x41, &d), INTC_OK);
    assert_dropped(h, &d, INTC_MSI_DROP_NO_REMAPPING);
    assert_int_equal(msend(m, rmsi(0x81, true), 0x41, &d), INTC_OK);
    assert_dropped(h, &d, INTC_MSI_DROP_NO_REMAPPING);
    assert_no_irr(m);
    check(m);
    intc_machine_free(m);

    /* A VT-d unit with remapping off. */
    vt_env e;
    env_start(&e, state, NULL);
    assert_int_equal(msend(e.m, rmsi(1, false), 0x41, &d), INTC_OK);
    assert_dropped(e.h, &d, INTC_MSI_DROP_NO_REMAPPING);
    assert_no_irr(e.m);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0); /* no fault either */
    env_end(&e);
}

/* ================================================================== */
/* BLOCKED, remapped, POSTED (VT-d)                                    */
/* ================================================================== */

/* VT-d 5.1.4.1, 7.1.3 (Table "interrupt remapping fault conditions"):
   the outcome names the fault reason and the interrupt index the fault
   record holds (FRR FI), and nothing reaches an APIC:
   21h index beyond IRTA.S, 22h entry not present (also when FPD
   suppresses the record), 25h compatibility format with CFI=0 (index 0:
   no entry concerned), 26h source-id verification, 27h posted
   descriptor not readable. */
static void test_blocked_vtd_reasons(void **state)
{
    vt_env e;
    intc_delivery d;
    xenv(&e, state);
    w32(e.u, INTC_VTD_FECTL, CTL_IM); /* keep fault events out */

    /* 256 entries: index 300 is beyond. */
    assert_int_equal(msend(e.m, rmsi(300, false), 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_BLOCKED, INTC_VTD_FR_INDEX_RANGE, 0,
                    300);
    assert_int_equal(FRR_FR(frr_hi(e.u, 0)), INTC_VTD_FR_INDEX_RANGE);
    assert_int_equal(FRR_FI(frr_lo(e.u, 0)), 300);

    /* Entry 5 all zero: not present. */
    assert_int_equal(msend(e.m, rmsi(5, false), 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_BLOCKED, INTC_VTD_FR_NOT_PRESENT, 0,
                    5);
    assert_int_equal(FRR_FR(frr_hi(e.u, 1)), INTC_VTD_FR_NOT_PRESENT);
    assert_int_equal(FRR_FI(frr_lo(e.u, 1)), 5);

    /* Entry 6 not present with FPD: blocked, not recorded. */
    irte_put(e.h, IRT_A, 6, IRTE_FPD | IRTE_V(0x66), 0);
    assert_int_equal(msend(e.m, rmsi(6, false), 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_BLOCKED, INTC_VTD_FR_NOT_PRESENT, 0,
                    6);
    assert_false(frr_hi(e.u, 2) & FRR_F);

    /* Compatibility format, CFI=0. */
    assert_int_equal(msend(e.m, cmsi(0), 0x41, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_BLOCKED, INTC_VTD_FR_COMPAT_BLOCKED,
                    0, 0);
    assert_int_equal(FRR_FR(frr_hi(e.u, 2)), INTC_VTD_FR_COMPAT_BLOCKED);

    /* SVT=01b, SID 02:00.0 only; requester 01:00.0. */
    irte_put(e.h, IRT_A, 9, irte_lo(0x69, IRTE_XDST(0)),
             IRTE_SVT(1) | IRTE_SID(0x0200));
    assert_int_equal(msend(e.m, rmsi(9, false), 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_BLOCKED, INTC_VTD_FR_SOURCE_ID, 0, 9);

    /* Posted entry whose descriptor is outside guest memory. */
    irte_put(e.h, IRT_A, 10, pirte_lo(0x6a, BAD_GPA), pirte_hi(BAD_GPA));
    assert_int_equal(msend(e.m, rmsi(10, false), 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_BLOCKED, INTC_VTD_FR_PID_ACCESS, 0,
                    10);

    assert_no_irr(e.m);
    th_assert_event_count(e.h, INTC_EV_IRR_SET, 0);
    env_end(&e);
}

/* VT-d 5.1.4, 9.10: a remapped interrupt's outcome is its APIC
   acceptance, with the IRTE index that remapped it; a remapped entry to
   an absent APIC ID is NO_TARGET with the index; a compatibility message
   passed through with CFI=1 (5.1.4.1) used no entry. */
static void test_remapped_vtd_outcomes(void **state)
{
    vt_env e;
    intc_delivery d;
    xenv(&e, state);
    irte_put(e.h, IRT_A, 1, irte_lo(0x90, IRTE_XDST(1)), 0);
    irte_put(e.h, IRT_A, 2, irte_lo(0x91, IRTE_XDST(7)), 0);
    irte_put(e.h, IRT_A, 3, irte_lo(0x92, IRTE_XDST(0xff)), 0);

    assert_int_equal(msend(e.m, rmsi(1, false), 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_ACCEPTED, 0, 1, 1);
    assert_true(irr(cpu(e.m, 1), 0x90));
    assert_false(irr(cpu(e.m, 0), 0x90));

    assert_int_equal(msend(e.m, rmsi(2, false), 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_NO_TARGET, 0, 0, 2);
    assert_false(irr(cpu(e.m, 0), 0x91));
    assert_false(irr(cpu(e.m, 1), 0x91));

    /* Broadcast destination in the IRTE: both APICs. */
    assert_int_equal(msend(e.m, rmsi(3, false), 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_ACCEPTED, 0, 2, 3);

    /* A remappable message to a non-interrupt address is still a
       memory write (SDM 11.11.1), not a remapping request. */
    assert_int_equal(msend(e.m, 0x12345010u, 0, &d), INTC_ERR_NOT_DECODED);
    assert_delivery(d, INTC_DELIVERY_DROPPED, INTC_MSI_DROP_NOT_INTERRUPT,
                    0, NO_IRTE);

    /* CFI=1: compatibility format passes, decoded as itself. */
    w32(e.u, INTC_VTD_GCMD, INTC_VTD_GCMD_IRE | INTC_VTD_GCMD_CFI);
    assert_int_equal(msend(e.m, cmsi(0), 0x93, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_ACCEPTED, 0, 1, NO_IRTE);
    assert_true(irr(cpu(e.m, 0), 0x93));
    /* ... and a passed-through message is still decoded strictly. */
    assert_int_equal(msend(e.m, cmsi(0), 0x93 | 3u << 8, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_DROPPED, INTC_MSI_DROP_RESERVED_MODE,
                    0, NO_IRTE);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    env_end(&e);
}

/* VT-d 5.2.3, 9.11, 9.12: a request through a posted-format IRTE is
   accepted by the remapping hardware: POSTED with the IRTE index, PIR[VV]
   set, the vector itself in no APIC's IRR.  The notification event (NV to
   NDST, only when ON goes 0 -> 1) is the unit's own message and is not
   what the outcome counts.  The same through an MSI-X entry. */
static void test_posted_vtd_outcome(void **state)
{
    vt_env e;
    intc_delivery d;
    intc_err err;
    xenv(&e, state);
    pid_put(e.h, PID_A, pid_ctl(NV, 1u << 8));
    irte_put(e.h, IRT_A, 7, pirte_lo(0x51, PID_A), pirte_hi(PID_A));
    irte_put(e.h, IRT_A, 8, pirte_lo(0x92, PID_A), pirte_hi(PID_A));

    assert_int_equal(msend(e.m, rmsi(7, false), 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_POSTED, 0, 0, 7);
    assert_true(pir_bit(e.h, PID_A, 0x51));
    assert_true(gm_r64(e.h, PID_A + 32) & PID_ON);
    assert_true(irr(cpu(e.m, 1), NV));
    for (uint32_t c = 0; c < 2; c++)
        assert_false(irr(cpu(e.m, c), 0x51));
    assert_int_equal(intc_lapic_ack(cpu(e.m, 1)), NV);
    eoi(cpu(e.m, 1));

    /* ON already set: posted, no notification. */
    assert_int_equal(msend(e.m, rmsi(8, false), 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_POSTED, 0, 0, 8);
    assert_true(pir_bit(e.h, PID_A, 0x92));
    assert_no_irr(e.m);

    /* From an MSI-X entry holding the remappable address. */
    intc_msix *x = intc_msix_new(e.m, 1, SID_DEV, &err);
    assert_non_null(x);
    assert_int_equal(intc_msix_table_write(x, 0, 4, (uint32_t)rmsi(7, false)),
                     INTC_OK);
    assert_int_equal(intc_msix_table_write(x, 12, 4, 0), INTC_OK);
    assert_int_equal(intc_msix_set_control(x, true, false), INTC_OK);
    poison(&d);
    assert_int_equal(intc_msix_notify(x, 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_POSTED, 0, 0, 7);
    assert_no_irr(e.m);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    intc_msix_free(x);
    env_end(&e);
}

/* ================================================================== */
/* MSI-X and MSI: PENDING, DISABLED                                    */
/* ================================================================== */

static void msix_entry(intc_msix *x, uint16_t v, uint64_t addr,
                       uint32_t data, bool masked)
{
    uint32_t o = 16u * v;
    assert_int_equal(intc_msix_table_write(x, o, 4, (uint32_t)addr),
                     INTC_OK);
    assert_int_equal(intc_msix_table_write(x, o + 4, 4, addr >> 32),
                     INTC_OK);
    assert_int_equal(intc_msix_table_write(x, o + 8, 4, data), INTC_OK);
    assert_int_equal(intc_msix_table_write(x, o + 12, 4, masked), INTC_OK);
}

static intc_err xnotify(intc_msix *x, uint16_t v, intc_delivery *d)
{
    poison(d);
    return intc_msix_notify(x, v, d);
}

/* PCIe 7.7.2.2: with MSI-X Enable clear the function may not signal
   through MSI-X: DISABLED, no pending bit, nothing sent.  Enabled, a
   vector whose Mask bit (7.7.2.5) or the Function Mask (7.7.2.2) is set
   is not sent; its PBA bit is set (7.7.2.6): PENDING; clearing the mask
   sends it with the entry as it is then.  An unmasked vector's message
   reports its own outcome. */
static void test_msix_outcomes(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_delivery d;
    intc_err err;
    uint64_t pba;
    sw_enable_all(m);
    intc_msix *x = intc_msix_new(m, 4, SID_DEV, &err);
    assert_non_null(x);
    msix_entry(x, 0, cmsi(1), 0x55, false);
    msix_entry(x, 1, cmsi(1), 0x56, true);
    msix_entry(x, 2, 0x12345000u, 0x58, false);
    msix_entry(x, 3, cmsi(9), 0x59, false);

    /* Disabled (the reset state). */
    for (uint16_t v = 0; v < 4; v++) {
        assert_int_equal(xnotify(x, v, &d), INTC_OK);
        assert_delivery(d, INTC_DELIVERY_DISABLED, 0, 0, NO_IRTE);
        assert_false(intc_msix_pending(x, v));
    }
    assert_int_equal(intc_msix_pba_read(x, 0, 8, &pba), INTC_OK);
    assert_int_equal(pba, 0);
    assert_no_irr(m);
    th_assert_event_count(h, INTC_EV_MSI, 0);
    th_assert_event_count(h, INTC_EV_MSIX_PENDING, 0);

    assert_int_equal(intc_msix_set_control(x, true, false), INTC_OK);
    assert_int_equal(xnotify(x, 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_ACCEPTED, 0, 1, NO_IRTE);
    assert_true(irr(cpu(m, 1), 0x55));

    /* Vector 1 masked: pending. */
    assert_int_equal(xnotify(x, 1, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_PENDING, 0, 0, NO_IRTE);
    assert_true(intc_msix_pending(x, 1));
    assert_int_equal(intc_msix_pba_read(x, 0, 8, &pba), INTC_OK);
    assert_int_equal(pba, 0x2);
    assert_false(irr(cpu(m, 1), 0x56));
    th_assert_event(h, INTC_EV_MSIX_PENDING, INTC_NO_CPU, TH_ANY_VECTOR);
    /* Unmask: sent, bit cleared. */
    assert_int_equal(intc_msix_table_write(x, 16 + 12, 4, 0), INTC_OK);
    assert_true(irr(cpu(m, 1), 0x56));
    assert_false(intc_msix_pending(x, 1));

    /* Function Mask: pending, sent at unmask with the data then. */
    assert_int_equal(intc_msix_set_control(x, true, true), INTC_OK);
    assert_int_equal(xnotify(x, 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_PENDING, 0, 0, NO_IRTE);
    assert_true(intc_msix_pending(x, 0));
    assert_int_equal(intc_msix_table_write(x, 8, 4, 0x57), INTC_OK);
    assert_false(irr(cpu(m, 1), 0x57));
    assert_int_equal(intc_msix_set_control(x, true, false), INTC_OK);
    assert_true(irr(cpu(m, 1), 0x57));
    assert_false(intc_msix_pending(x, 0));

    /* The message's own outcome: a memory write, nobody home. */
    assert_int_equal(xnotify(x, 2, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_DROPPED, INTC_MSI_DROP_NOT_INTERRUPT,
                    0, NO_IRTE);
    assert_int_equal(xnotify(x, 3, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_NO_TARGET, 0, 0, NO_IRTE);
    assert_int_equal(intc_msix_notify(x, 4, &d), INTC_ERR_RANGE);
    /* out NULL. */
    assert_int_equal(intc_msix_notify(x, 0, NULL), INTC_OK);

    /* Disabled again: nothing recorded even for a masked vector. */
    assert_int_equal(intc_msix_table_write(x, 12, 4, 1), INTC_OK);
    assert_int_equal(intc_msix_set_control(x, false, false), INTC_OK);
    assert_int_equal(xnotify(x, 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_DISABLED, 0, 0, NO_IRTE);
    assert_false(intc_msix_pending(x, 0));
    intc_msix_free(x);
    check(m);
    intc_machine_free(m);
}

static intc_err cnotify(intc_msi *c, unsigned v, intc_delivery *d)
{
    poison(d);
    return intc_msi_notify(c, v, d);
}

static uint32_t cread(intc_msi *c, uint32_t off)
{
    uint32_t v = 0xdeadbeefu;
    assert_int_equal(intc_msi_config_read(c, off, 4, &v), INTC_OK);
    return v;
}

static void cwrite(intc_msi *c, uint32_t off, unsigned size, uint32_t v)
{
    assert_int_equal(intc_msi_config_write(c, off, size, v), INTC_OK);
}

/* PCI 3.0 6.8.1.3: MSI Enable clear: the function may not use MSI
   (DISABLED); 6.8.1.3 Multiple Message Enable: vectors beyond 2^MME are
   not the function's to send (DISABLED); 6.8.1.7-8 per-vector masking: a
   masked vector sets its Pending bit (PENDING) and is sent when unmasked;
   6.8.1.6: the vector number in the low MME bits of Message Data. */
static void test_msi_capability_outcomes(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_delivery d;
    intc_err err;
    sw_enable_all(m);
    /* 32-bit address, per-vector masking: address 4, data 8, mask 12,
       pending 16. */
    intc_msi *c = intc_msi_new(m, 2, false, true, SID_DEV, &err);
    assert_non_null(c);
    cwrite(c, 4, 4, (uint32_t)cmsi(1));
    cwrite(c, 8, 2, 0x60);

    assert_int_equal(cnotify(c, 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_DISABLED, 0, 0, NO_IRTE);
    assert_int_equal(cread(c, 16), 0);
    assert_no_irr(m);

    /* Enable with MME = 2 (4 vectors). */
    cwrite(c, 2, 2, 0x0001u | 2u << 4);
    assert_int_equal(cnotify(c, 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_ACCEPTED, 0, 1, NO_IRTE);
    assert_true(irr(cpu(m, 1), 0x60));
    assert_int_equal(cnotify(c, 3, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_ACCEPTED, 0, 1, NO_IRTE);
    assert_true(irr(cpu(m, 1), 0x63));
    assert_int_equal(cnotify(c, 4, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_DISABLED, 0, 0, NO_IRTE);
    assert_false(irr(cpu(m, 1), 0x64));

    /* Mask vector 1. */
    cwrite(c, 12, 4, 0x2);
    assert_int_equal(cnotify(c, 1, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_PENDING, 0, 0, NO_IRTE);
    assert_int_equal(cread(c, 16), 0x2);
    assert_false(irr(cpu(m, 1), 0x61));
    cwrite(c, 12, 4, 0);
    assert_true(irr(cpu(m, 1), 0x61));
    assert_int_equal(cread(c, 16), 0);

    /* MME = 0: only vector 0. */
    cwrite(c, 2, 2, 0x0001u);
    assert_int_equal(cnotify(c, 1, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_DISABLED, 0, 0, NO_IRTE);
    /* The message's own outcome. */
    cwrite(c, 4, 4, (uint32_t)cmsi(9));
    assert_int_equal(cnotify(c, 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_NO_TARGET, 0, 0, NO_IRTE);
    cwrite(c, 8, 2, 0x60 | 3u << 8);
    assert_int_equal(cnotify(c, 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_DROPPED, INTC_MSI_DROP_RESERVED_MODE,
                    0, NO_IRTE);
    /* Disabled again. */
    cwrite(c, 2, 2, 0);
    assert_int_equal(cnotify(c, 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_DISABLED, 0, 0, NO_IRTE);
    intc_msi_free(c);
    check(m);
    intc_machine_free(m);
}

/* ================================================================== */
/* intc_irq_deliver                                                    */
/* ================================================================== */

static intc_err ideliver(intc_machine *m, const intc_irq *irq,
                         intc_delivery *d)
{
    poison(d);
    return intc_irq_deliver(m, irq, d);
}

/* iommu.h: intc_irq_deliver delivers nothing for a blocked or posted
   result and reports it (BLOCKED with the fault reason and index;
   POSTED with the index: the engine's remap already posted it, VT-d
   5.2.3, and delivering must not post again); a remapped result is
   delivered (ACCEPTED, index); a reserved delivery mode is DROPPED. */
static void test_irq_deliver_outcomes(void **state)
{
    vt_env e;
    intc_delivery d;
    intc_irq irq;
    xenv(&e, state);
    w32(e.u, INTC_VTD_FECTL, CTL_IM);
    irte_put(e.h, IRT_A, 1, irte_lo(0x90, IRTE_XDST(1)), 0);
    pid_put(e.h, PID_A, pid_ctl(NV, 1u << 8));
    irte_put(e.h, IRT_A, 7, pirte_lo(0x51, PID_A), pirte_hi(PID_A));

    /* Blocked: entry 5 not present. */
    assert_int_equal(intc_iommu_remap(e.u, SID_DEV, rmsi(5, false), 0, &irq),
                     INTC_OK);
    assert_true(irq.blocked);
    assert_int_equal(ideliver(e.m, &irq, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_BLOCKED, INTC_VTD_FR_NOT_PRESENT, 0, 5);
    assert_no_irr(e.m);

    /* Posted. */
    assert_int_equal(intc_iommu_remap(e.u, SID_DEV, rmsi(7, false), 0, &irq),
                     INTC_OK);
    assert_true(irq.posted);
    assert_true(pir_bit(e.h, PID_A, 0x51));
    assert_true(irr(cpu(e.m, 1), NV)); /* the remap's notification */
    assert_int_equal(intc_lapic_ack(cpu(e.m, 1)), NV);
    eoi(cpu(e.m, 1));
    gm_w64(e.h, PID_A + 8, 0); /* PIR[127:64]: clear bit 0x51 */
    unsigned writes = e.h->n_dma_write;
    assert_int_equal(ideliver(e.m, &irq, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_POSTED, 0, 0, 7);
    assert_int_equal(e.h->n_dma_write, writes);
    assert_false(pir_bit(e.h, PID_A, 0x51));
    assert_no_irr(e.m);

    /* Remapped. */
    assert_int_equal(intc_iommu_remap(e.u, SID_DEV, rmsi(1, false), 0, &irq),
                     INTC_OK);
    assert_true(irq.remapped);
    assert_false(irr(cpu(e.m, 1), 0x90)); /* remap alone delivers nothing */
    assert_int_equal(ideliver(e.m, &irq, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_ACCEPTED, 0, 1, 1);
    assert_true(irr(cpu(e.m, 1), 0x90));

    /* Remapped to an APIC ID nobody has. */
    irq.dest = 7;
    assert_int_equal(ideliver(e.m, &irq, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_NO_TARGET, 0, 0, 1);

    /* A hand-built result with a reserved delivery mode. */
    memset(&irq, 0, sizeof(irq));
    irq.remapped = true;
    irq.index = 3;
    irq.vector = 0x41;
    irq.dm = 3;
    assert_int_equal(ideliver(e.m, &irq, &d), INTC_OK);
    assert_int_equal(d.status, INTC_DELIVERY_DROPPED);
    assert_int_equal(d.reason, INTC_MSI_DROP_RESERVED_MODE);
    assert_int_equal(d.n_cpus, 0);
    assert_false(irr(cpu(e.m, 0), 0x41));
    /* out NULL. */
    assert_int_equal(intc_irq_deliver(e.m, &irq, NULL), INTC_OK);
    env_end(&e);
}

/* ================================================================== */
/* The unit's own event messages to a non-interrupt address            */
/* ================================================================== */

/* Traced: the last dropped message was this event message, refused as a
   memory write. */
static void assert_event_msg_dropped(vt_env *e, uint64_t addr, int vector)
{
    TH_IF_TRACED(e->h) {
        const intc_event *ev = th_last_event(e->h, INTC_EV_MSI_DROPPED);
        assert_non_null(ev);
        assert_int_equal(ev->data, addr);
        assert_int_equal(ev->vector, vector);
        assert_int_equal(ev->data2 >> 32, INTC_MSI_DROP_NOT_INTERRUPT);
    }
}

static void assert_nothing_pending(intc_machine *m)
{
    assert_no_irr(m);
    for (uint32_t c = 0; c < intc_machine_cpu_count(m); c++)
        assert_int_equal(intc_lapic_pending(cpu(m, c)), 0);
}

/*
 * VT-d 7.3.1 / 11.4.10-11.4.12: a fault event is an interrupt message
 * written to FEADDR with FEDATA; it is not remapped (5.1.6), and SDM
 * 11.11.1 makes a write outside 0xFEExxxxx an ordinary memory write, not
 * an interrupt.  A guest that unmasks FECTL before it programs FEADDR
 * (still 0 from reset) gets no interrupt on any CPU, neither when a fault
 * is raised unmasked nor when a fault raised while masked (IP=1) is sent
 * at the unmask (7.3.1: IP is cleared either way, the message having been
 * generated).  Once FEADDR is 0xFEE00000 the next fault event is
 * delivered, by both paths.  bad is FEADDR's non-interrupt value.
 */
static void fault_event_bad_address(void **state, uint32_t bad)
{
    vt_env e;
    intc_delivery d;
    xenv(&e, state);
    w32(e.u, INTC_VTD_FEDATA, 0xe5);
    if (bad)
        w32(e.u, INTC_VTD_FEADDR, bad);
    assert_int_equal(r32(e.u, INTC_VTD_FEADDR), bad);
    w32(e.u, INTC_VTD_FECTL, 0);

    /* Fault with FECTL unmasked. */
    assert_int_equal(msend(e.m, rmsi(1, false), 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_BLOCKED, INTC_VTD_FR_NOT_PRESENT, 0,
                    1);
    assert_true(r32(e.u, INTC_VTD_FSTS) & FS_PPF);
    assert_int_equal(r32(e.u, INTC_VTD_FECTL), 0);
    assert_nothing_pending(e.m);
    assert_event_msg_dropped(&e, bad, 0xe5);
    th_assert_event_count(e.h, INTC_EV_IRR_SET, 0);
    th_assert_event_count(e.h, INTC_EV_MSI, 0);

    /* Fault while masked (IP), then unmask. */
    frr_clear(e.u, 0);
    assert_false(r32(e.u, INTC_VTD_FSTS) & FS_PPF);
    w32(e.u, INTC_VTD_FECTL, CTL_IM);
    th_clear_events(e.h);
    assert_int_equal(msend(e.m, rmsi(2, false), 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_BLOCKED, INTC_VTD_FR_NOT_PRESENT, 0,
                    2);
    assert_int_equal(r32(e.u, INTC_VTD_FECTL), CTL_IM | CTL_IP);
    w32(e.u, INTC_VTD_FECTL, 0);
    assert_int_equal(r32(e.u, INTC_VTD_FECTL), 0);
    assert_nothing_pending(e.m);
    assert_event_msg_dropped(&e, bad, 0xe5);
    th_assert_event_count(e.h, INTC_EV_IRR_SET, 0);

    /* FEADDR programmed: the next fault event is an interrupt to APIC 0. */
    frr_clear(e.u, 1);
    w32(e.u, INTC_VTD_FEADDR, (uint32_t)cmsi(0));
    assert_int_equal(msend(e.m, rmsi(3, false), 0, &d), INTC_OK);
    /* The outcome is the request's, not the fault event's delivery. */
    assert_delivery(d, INTC_DELIVERY_BLOCKED, INTC_VTD_FR_NOT_PRESENT, 0,
                    3);
    assert_true(irr(cpu(e.m, 0), 0xe5));
    assert_false(irr(cpu(e.m, 1), 0xe5));
    assert_int_equal(intc_lapic_ack(cpu(e.m, 0)), 0xe5);
    eoi(cpu(e.m, 0));
    /* ... and by the IP-then-unmask path. */
    frr_clear(e.u, 2);
    w32(e.u, INTC_VTD_FECTL, CTL_IM);
    assert_int_equal(msend(e.m, rmsi(4, false), 0, &d), INTC_OK);
    assert_false(irr(cpu(e.m, 0), 0xe5));
    w32(e.u, INTC_VTD_FECTL, 0);
    assert_true(irr(cpu(e.m, 0), 0xe5));
    assert_false(irr(cpu(e.m, 1), 0xe5));
    env_end(&e);
}

static void test_fault_event_feaddr_zero_not_delivered(void **state)
{
    fault_event_bad_address(state, 0);
}

/* Bits 19:12 = 01h: a decoder that ignored the window would pick CPU 1. */
static void test_fault_event_feaddr_memory_not_delivered(void **state)
{
    fault_event_bad_address(state, 0x12301000u);
}

/*
 * VT-d 6.5.2.8 (invalidation wait, IF=1), 11.4.23-11.4.26: the
 * invalidation completion event is a message to IEADDR with IEDATA, under
 * the same rules as the fault event (7.3.1 via 6.5.2.11): with IEADDR not
 * an interrupt address it is a memory write and no CPU gets IEDATA's
 * vector, raised unmasked or at the unmask of IECTL; with IEADDR
 * 0xFEE00000 the next one is delivered.
 */
static void completion_event_bad_address(void **state, uint32_t bad)
{
    vt_env e;
    xenv(&e, state);
    iq_enable(e.u, INTC_VTD_GCMD_IRE);
    w32(e.u, INTC_VTD_IEDATA, 0xe6);
    if (bad)
        w32(e.u, INTC_VTD_IEADDR, bad);
    w32(e.u, INTC_VTD_IECTL, 0);

    desc_put(e.h, 0, wait_lo(true, false, 0), 0);
    w64(e.u, INTC_VTD_IQT, 16);
    assert_int_equal(r64(e.u, INTC_VTD_IQH), 16);
    assert_true(r32(e.u, INTC_VTD_ICS) & ICS_IWC);
    assert_int_equal(r32(e.u, INTC_VTD_IECTL), 0);
    assert_nothing_pending(e.m);
    assert_event_msg_dropped(&e, bad, 0xe6);

    /* Masked: IP; unmask sends it, to nowhere. */
    w32(e.u, INTC_VTD_ICS, ICS_IWC);
    w32(e.u, INTC_VTD_IECTL, CTL_IM);
    th_clear_events(e.h);
    desc_put(e.h, 1, wait_lo(true, false, 0), 0);
    w64(e.u, INTC_VTD_IQT, 32);
    assert_int_equal(r32(e.u, INTC_VTD_IECTL), CTL_IM | CTL_IP);
    w32(e.u, INTC_VTD_IECTL, 0);
    assert_int_equal(r32(e.u, INTC_VTD_IECTL), 0);
    assert_nothing_pending(e.m);
    assert_event_msg_dropped(&e, bad, 0xe6);
    th_assert_event_count(e.h, INTC_EV_IRR_SET, 0);

    /* IEADDR programmed: delivered to APIC 0. */
    w32(e.u, INTC_VTD_ICS, ICS_IWC);
    w32(e.u, INTC_VTD_IEADDR, (uint32_t)cmsi(0));
    desc_put(e.h, 2, wait_lo(true, false, 0), 0);
    w64(e.u, INTC_VTD_IQT, 48);
    assert_true(irr(cpu(e.m, 0), 0xe6));
    assert_false(irr(cpu(e.m, 1), 0xe6));
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    env_end(&e);
}

static void test_completion_event_ieaddr_zero_not_delivered(void **state)
{
    completion_event_bad_address(state, 0);
}

static void test_completion_event_ieaddr_memory_not_delivered(void **state)
{
    completion_event_bad_address(state, 0x12301000u);
}

/*
 * VT-d 5.1.6, 11.4.13 (FEUADDR), 11.4.27 (IEUADDR): with extended
 * interrupt mode the upper address register holds destination ID bits
 * 31:8, but the message is still only an interrupt when the low address
 * is in 0xFEExxxxx (SDM 11.11.1).  FEUADDR/IEUADDR = 0x300 (CPU 3's
 * x2APIC ID with low byte 0): a low address of 0 or 0x12300000 reaches
 * nobody; 0xFEE00000 reaches CPU 3.
 */
static const uint32_t x2ids[4] = {0, 1, 0x12345, 0x300};
static void test_event_messages_eim_low_address_refused(void **state)
{
    intc_machine_config cfg;
    intc_delivery d;
    vt_env e;
    vt_cfg(&cfg, 4);
    cfg.apic_ids = x2ids;
    env_start(&e, state, &cfg);
    x2_enable_all(e.m);
    ir_enable(e.u, IRT_A, 7, true, false);

    w32(e.u, INTC_VTD_FEDATA, 0xe5);
    w32(e.u, INTC_VTD_FEUADDR, 0x300);
    w32(e.u, INTC_VTD_FECTL, 0);
    assert_int_equal(msend(e.m, rmsi(1, false), 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_BLOCKED, INTC_VTD_FR_NOT_PRESENT, 0,
                    1);
    assert_nothing_pending(e.m);
    th_assert_event_count(e.h, INTC_EV_IRR_SET, 0);

    frr_clear(e.u, 0);
    w32(e.u, INTC_VTD_FEADDR, 0x12300000u);
    assert_int_equal(msend(e.m, rmsi(2, false), 0, &d), INTC_OK);
    assert_nothing_pending(e.m);
    th_assert_event_count(e.h, INTC_EV_IRR_SET, 0);

    frr_clear(e.u, 1);
    w32(e.u, INTC_VTD_FEADDR, (uint32_t)cmsi(0));
    assert_int_equal(msend(e.m, rmsi(3, false), 0, &d), INTC_OK);
    assert_true(irr(cpu(e.m, 3), 0xe5));
    for (uint32_t c = 0; c < 3; c++)
        assert_false(irr(cpu(e.m, c), 0xe5));

    /* The completion event. */
    iq_enable(e.u, INTC_VTD_GCMD_IRE);
    w32(e.u, INTC_VTD_IEDATA, 0xe6);
    w32(e.u, INTC_VTD_IEUADDR, 0x300);
    w32(e.u, INTC_VTD_IECTL, 0);
    desc_put(e.h, 0, wait_lo(true, false, 0), 0);
    w64(e.u, INTC_VTD_IQT, 16);
    assert_true(r32(e.u, INTC_VTD_ICS) & ICS_IWC);
    for (uint32_t c = 0; c < 4; c++)
        assert_false(irr(cpu(e.m, c), 0xe6));
    w32(e.u, INTC_VTD_ICS, ICS_IWC);
    w32(e.u, INTC_VTD_IEADDR, (uint32_t)cmsi(0));
    desc_put(e.h, 1, wait_lo(true, false, 0), 0);
    w64(e.u, INTC_VTD_IQT, 32);
    assert_true(irr(cpu(e.m, 3), 0xe6));
    for (uint32_t c = 0; c < 3; c++)
        assert_false(irr(cpu(e.m, c), 0xe6));
    env_end(&e);
}

/* VT-d 7.3.1, 11.4.10-11.4.12: a fault event held pending (IP=1) while
   FECTL is masked is generated at the unmask, with FEADDR and FEDATA as
   they are then: a guest that programs FEADDR after the fault but before
   the unmask gets the interrupt. */
static void test_fault_event_uses_address_at_unmask(void **state)
{
    vt_env e;
    intc_delivery d;
    xenv(&e, state);
    assert_int_equal(r32(e.u, INTC_VTD_FECTL), CTL_IM); /* reset: masked */
    assert_int_equal(msend(e.m, rmsi(1, false), 0, &d), INTC_OK);
    assert_delivery(d, INTC_DELIVERY_BLOCKED, INTC_VTD_FR_NOT_PRESENT, 0,
                    1);
    assert_int_equal(r32(e.u, INTC_VTD_FECTL), CTL_IM | CTL_IP);
    w32(e.u, INTC_VTD_FEDATA, 0xe5);
    w32(e.u, INTC_VTD_FEADDR, (uint32_t)cmsi(1));
    assert_no_irr(e.m);
    w32(e.u, INTC_VTD_FECTL, 0);
    assert_int_equal(r32(e.u, INTC_VTD_FECTL), 0);
    assert_true(irr(cpu(e.m, 1), 0xe5));
    assert_false(irr(cpu(e.m, 0), 0xe5));
    env_end(&e);
}

/* VT-d 5.1.5.1: a remappable-format IOAPIC entry (bit 48) makes a
   remappable message; with no remapping hardware it is dropped
   (NO_REMAPPING) and reaches no APIC, whatever handle it carries.  An
   edge pin's interrupt is simply lost; a level pin's was accepted by
   nobody, so Remote IRR stays clear and Delivery Status reads "send
   pending" (82093AA 3.2.4).  An entry with a reserved delivery mode
   (011b, 82093AA 3.2.4) is dropped the same way (RESERVED_MODE). */
static void test_ioapic_message_dropped_without_remapping(void **state)
{
    th_host *h = *state;
    static const uint8_t wiring[24] = {[3] = INTC_PIN_LEVEL};
    intc_ioapic_config ioc = {.id = 2, .version = 0x20, .n_pins = 24,
                              .gsi_base = 0, .source_id = SID_IOAPIC,
                              .pin_wiring = wiring};
    intc_machine_config cfg;
    intc_machine_config_init(&cfg);
    cfg.n_cpus = 2;
    cfg.ioapics = &ioc;
    cfg.n_ioapics = 1;
    intc_machine *m = th_machine(h, &cfg);
    sw_enable_all(m);
    intc_ioapic *io = intc_machine_ioapic(m, 0);

    /* Edge pin 1, handle 0 (would read as destination 0). */
    rte_set(io, 1, RTE_VEC(0x41) | INTC_RTE_REMAPPABLE);
    assert_int_equal(intc_ioapic_set_irq(io, 1, true), INTC_OK);
    assert_no_irr(m);
    TH_IF_TRACED(h) {
        const intc_event *ev = th_last_event(h, INTC_EV_MSI_DROPPED);
        assert_non_null(ev);
        assert_int_equal(ev->data2 >> 32, INTC_MSI_DROP_NO_REMAPPING);
        assert_int_equal(ev->pin, SID_IOAPIC);
    }
    /* Level pin 3. */
    rte_set(io, 3, RTE_VEC(0x43) | RTE_LEVEL | INTC_RTE_REMAPPABLE);
    assert_int_equal(intc_ioapic_set_irq(io, 3, true), INTC_OK);
    assert_no_irr(m);
    assert_false(remote_irr(io, 3));
    assert_true(delivs(io, 3));
    check(m);
    /* Edge pin 2 with delivery mode 011b. */
    rte_set(io, 2, RTE_VEC(0x42) | RTE_DM(3) | RTE_DEST(0));
    assert_int_equal(intc_ioapic_set_irq(io, 2, true), INTC_OK);
    assert_no_irr(m);
    for (uint32_t c = 0; c < 2; c++)
        assert_int_equal(intc_lapic_pending(cpu(m, c)), 0);
    TH_IF_TRACED(h) {
        const intc_event *ev = th_last_event(h, INTC_EV_MSI_DROPPED);
        assert_non_null(ev);
        assert_int_equal(ev->data2 >> 32, INTC_MSI_DROP_RESERVED_MODE);
    }
    /* Back to the compatibility format: the level line is delivered. */
    rte_set(io, 3, RTE_VEC(0x43) | RTE_LEVEL | RTE_DEST(1));
    assert_true(irr(cpu(m, 1), 0x43));
    assert_true(remote_irr(io, 3));
    assert_false(delivs(io, 3));
    check(m);
    intc_machine_free(m);
}

/* ================================================================== */
/* A level IOAPIC pin remapped to a posted-format IRTE                 */
/* ================================================================== */

/* A level-triggered, remapped-to-APIC interrupt from IRTE idx to CPU c,
   taken (INTA) and EOIed: an EOI broadcast of vector v from CPU c (SDM
   11.8.5). */
static void level_eoi_broadcast(vt_env *e, uint32_t idx, uint32_t c,
                                uint8_t v)
{
    intc_lapic *l = cpu(e->m, c);
    send(e, rmsi(idx, false), 0, SID_DEV);
    assert_true(irr(l, v));
    assert_true(tmr(l, v));
    assert_int_equal(intc_lapic_ack(l), v);
    eoi(l);
    assert_false(isr(l, v));
    th_assert_event(e->h, INTC_EV_EOI_BROADCAST, c, v);
}

#define PV 0x61 /* the entry's vector, and the posted vector */
#define PIR_WORD(v) (PID_A + 8ull * ((v) / 64))

/*
 * 82093AA 3.2.4 (Remote IRR: "set to 1 when the local APIC(s) accept the
 * level interrupt sent by the IOAPIC", reset by an EOI with a matching
 * vector) with VT-d 5.1.5.1 (remappable RTE) and 5.2.3 (posting: the
 * remapping hardware takes the interrupt into the descriptor, which is
 * its acceptance).  A level pin remapped to a posted IRTE: the post sets
 * Remote IRR; while the line stays asserted an EOI broadcast of any other
 * vector, from any CPU, neither clears it nor posts again (the PIR bit,
 * cleared by hand in guest memory, stays clear and nothing is written to
 * the descriptor); the EOI of the entry's vector (by the IOAPIC's EOI
 * register, ICH9 13.5.5, and by a LAPIC EOI broadcast) clears Remote IRR
 * and, the line still asserted, posts again.  Line dropped: the EOI
 * clears Remote IRR and nothing is posted.
 */
static void test_posted_level_ioapic_remote_irr(void **state)
{
    static const uint8_t wiring[24] = {[5] = INTC_PIN_LEVEL};
    intc_ioapic_config ioc = {.id = 8, .version = 0x20, .n_pins = 24,
                              .gsi_base = 0, .source_id = SID_IOAPIC,
                              .pin_wiring = wiring};
    intc_machine_config cfg;
    vt_env e;
    vt_cfg(&cfg, 2);
    cfg.ioapics = &ioc;
    cfg.n_ioapics = 1;
    env_start(&e, state, &cfg);
    ir_enable(e.u, IRT_A, 7, false, false);
    intc_ioapic *io = intc_machine_ioapic(e.m, 0);

    pid_put(e.h, PID_A, pid_ctl(NV, 1u << 8));
    irte_put(e.h, IRT_A, 3, pirte_lo(PV, PID_A), pirte_hi(PID_A));
    /* Unrelated level interrupts, vector 0x70, to CPU 0 and CPU 1; and a
       level PV to CPU 0 (for an EOI broadcast of PV). */
    irte_put(e.h, IRT_A, 4, irte_lo(0x70, IRTE_XDST(0)) | IRTE_TM_LEVEL,
             0);
    irte_put(e.h, IRT_A, 5, irte_lo(0x70, IRTE_XDST(1)) | IRTE_TM_LEVEL,
             0);
    irte_put(e.h, IRT_A, 6, irte_lo(PV, IRTE_XDST(0)) | IRTE_TM_LEVEL, 0);
    /* Pin 5: level, remappable, handle 3 (bits 63:49). */
    rte_set(io, 5, RTE_VEC(PV) | RTE_LEVEL | INTC_RTE_REMAPPABLE |
                       3ull << 49);

    assert_int_equal(intc_ioapic_set_irq(io, 5, true), INTC_OK);
    assert_true(pir_bit(e.h, PID_A, PV));
    assert_true(gm_r64(e.h, PID_A + 32) & PID_ON);
    assert_true(remote_irr(io, 5));
    assert_false(delivs(io, 5));
    assert_true(irr(cpu(e.m, 1), NV)); /* notification */
    for (uint32_t c = 0; c < 2; c++)
        assert_false(irr(cpu(e.m, c), PV));
    th_assert_event_count(e.h, INTC_EV_IR_POSTED, 1);
    assert_int_equal(intc_lapic_ack(cpu(e.m, 1)), NV);
    eoi(cpu(e.m, 1)); /* edge: no broadcast */
    th_assert_no_event(e.h, INTC_EV_EOI_BROADCAST, TH_ANY_CPU, NV);

    /* The guest's side drains PIR (as a VMM's sync would). */
    gm_w64(e.h, PIR_WORD(PV), 0);
    unsigned writes = e.h->n_dma_write;

    /* Unrelated level EOIs on CPU 0 and CPU 1. */
    level_eoi_broadcast(&e, 4, 0, 0x70);
    level_eoi_broadcast(&e, 5, 1, 0x70);
    level_eoi_broadcast(&e, 4, 0, 0x70);
    assert_false(pir_bit(e.h, PID_A, PV));
    assert_int_equal(e.h->n_dma_write, writes);
    assert_true(remote_irr(io, 5));
    th_assert_event_count(e.h, INTC_EV_IR_POSTED, 1);
    th_assert_event_count(e.h, INTC_EV_IOAPIC_SEND, 1);

    /* EOI of PV through the IOAPIC's EOI register: re-posted. */
    th_clear_events(e.h);
    iomw(io, INTC_IOAPIC_EOI, PV);
    assert_true(pir_bit(e.h, PID_A, PV));
    assert_true(e.h->n_dma_write > writes);
    assert_true(remote_irr(io, 5));
    assert_no_irr(e.m); /* ON was still set: no new notification */
    th_assert_event_count(e.h, INTC_EV_IR_POSTED, 1);
    TH_IF_TRACED(e.h) {
        const intc_event *ev = th_last_event(e.h, INTC_EV_IOAPIC_SEND);
        assert_non_null(ev);
        assert_int_equal(ev->pin, 5);
        assert_int_equal(ev->data2, 1); /* a re-delivery after EOI */
        ev = th_find_event(e.h, INTC_EV_REMOTE_IRR, INTC_NO_CPU, PV);
        assert_non_null(ev);
        assert_int_equal(ev->data, 0); /* cleared first */
    }

    /* EOI of PV broadcast by a LAPIC: re-posted again. */
    gm_w64(e.h, PIR_WORD(PV), 0);
    writes = e.h->n_dma_write;
    level_eoi_broadcast(&e, 6, 0, PV);
    assert_true(pir_bit(e.h, PID_A, PV));
    assert_true(e.h->n_dma_write > writes);
    assert_true(remote_irr(io, 5));

    /* Line dropped: the EOI clears Remote IRR, nothing is posted. */
    assert_int_equal(intc_ioapic_set_irq(io, 5, false), INTC_OK);
    assert_true(remote_irr(io, 5)); /* only an EOI clears it */
    gm_w64(e.h, PIR_WORD(PV), 0);
    writes = e.h->n_dma_write;
    th_clear_events(e.h);
    iomw(io, INTC_IOAPIC_EOI, PV);
    assert_false(remote_irr(io, 5));
    assert_false(delivs(io, 5));
    assert_false(pir_bit(e.h, PID_A, PV));
    assert_int_equal(e.h->n_dma_write, writes);
    th_assert_event_count(e.h, INTC_EV_IR_POSTED, 0);
    assert_int_equal(r32(e.u, INTC_VTD_FSTS), 0);
    env_end(&e);
}

/* ================================================================== */
/* The IOAPIC EOI path across both words of the pin index              */
/* ================================================================== */

/* The pins of the recorded events of type (and data2 == want2 unless
   want2 is negative), in order; returns how many. */
static size_t event_pins(const th_host *h, intc_event_type type,
                         int64_t want2, int64_t want_data, uint32_t *pins,
                         size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n_events; i++) {
        const intc_event *ev = &h->events[i];
        if (ev->type != type || (want2 >= 0 && ev->data2 != (uint64_t)want2) ||
            (want_data >= 0 && ev->data != (uint64_t)want_data))
            continue;
        if (n < max)
            pins[n] = ev->pin;
        n++;
    }
    return n;
}

static void assert_pins(const th_host *h, intc_event_type type,
                        int64_t want2, int64_t want_data,
                        const uint32_t *want, size_t n_want)
{
    TH_IF_TRACED(h) {
        uint32_t got[16];
        size_t n = event_pins(h, type, want2, want_data, got, 16);
        if (n != n_want)
            th_dump_events(h);
        assert_int_equal(n, n_want);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(got[i], want[i]);
    }
}

static bool isr_any(intc_lapic *l)
{
    for (unsigned w = 0; w < 8; w++)
        if (lr(l, INTC_LAPIC_ISR0 + 0x10 * w))
            return true;
    return false;
}

/* INTA and EOI on CPU c until nothing is in service or deliverable
   (SDM 11.8.3-11.8.5; lapic.h intc_lapic_ack: nothing, or the spurious
   vector 0xFF from sw_enable). */
static void drain(intc_machine *m, uint32_t c)
{
    intc_lapic *l = cpu(m, c);
    for (unsigned n = 0; n < 64; n++) {
        int v = intc_lapic_ack(l);
        if ((v == INTC_ACK_NONE || v == INTC_ACK_SPURIOUS(0xff)) &&
            !isr_any(l))
            return;
        eoi(l);
    }
    fail_msg("CPU %u never drained", c);
}

/* The machine of the next tests: 4 CPUs (software-disabled until a test
   enables them) and one 120-pin IOAPIC (version 0x20) with level wiring
   on the pins used. */
static const uint32_t lv[4] = {5, 63, 64, 119};
static const uint8_t lv_dest[4] = {0, 0, 2, 3};
static intc_machine *many_pins_machine(th_host *h)
{
    uint8_t wiring[120] = {0};
    for (unsigned i = 0; i < 4; i++)
        wiring[lv[i]] = INTC_PIN_LEVEL;
    wiring[70] = INTC_PIN_LEVEL;
    wiring[100] = INTC_PIN_LEVEL;
    intc_ioapic_config ioc = {.id = 2, .version = 0x20, .n_pins = 120,
                              .gsi_base = 0, .source_id = SID_IOAPIC,
                              .pin_wiring = wiring};
    intc_machine_config cfg;
    intc_machine_config_init(&cfg);
    cfg.n_cpus = 4;
    cfg.ioapics = &ioc;
    cfg.n_ioapics = 1;
    return th_machine(h, &cfg);
}


/* The many-pin machine's entries programmed and every line raised:
   pins 5, 63, 64, 119 level vector 0x40 (to lv_dest), pin 70 level 0x30
   to CPU 0, pin 100 level 0x48 to the software-disabled CPU 1. */
static void many_pins_raise(intc_machine *m)
{
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    sw_enable(cpu(m, 0)); /* CPU 1 stays software-disabled */
    sw_enable(cpu(m, 2));
    sw_enable(cpu(m, 3));
    for (unsigned i = 0; i < 4; i++)
        rte_set(io, lv[i], RTE_VEC(0x40) | RTE_LEVEL | RTE_DEST(lv_dest[i]));
    rte_set(io, 70, RTE_VEC(0x30) | RTE_LEVEL | RTE_DEST(0));
    rte_set(io, 100, RTE_VEC(0x48) | RTE_LEVEL | RTE_DEST(1));
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(intc_ioapic_set_irq(io, lv[i], true), INTC_OK);
    assert_int_equal(intc_ioapic_set_irq(io, 70, true), INTC_OK);
    assert_int_equal(intc_ioapic_set_irq(io, 100, true), INTC_OK);
}

/*
 * 82093AA 3.2.4 (Remote IRR reset "when an EOI message is received with
 * a matching interrupt vector"), SDM 11.8.5 (the EOI broadcast reaches
 * every IOAPIC and carries only the vector): a 120-pin IOAPIC with level
 * pins 5, 63 (to CPU 0), 64 (to CPU 2) and 119 (to CPU 3), all on vector
 * 0x40 (both words of a 64-bit pin bitmap, and its boundary), pin 70 on
 * vector 0x30, and pin 100 (0x48 to CPU 1) whose message no APIC accepts
 * (CPU 1 software-disabled: Delivery Status "send pending").  CPUs 2 and 3
 * take their 0x40 (INTA) without EOI; pin 63's line drops.  One EOI of
 * 0x40 from CPU 0 clears Remote IRR on all four 0x40 pins and re-delivers
 * the ones still asserted (5, 64, 119: IRR set again on CPUs 0, 2, 3) in
 * ascending pin order; pin 63 stays clear; pin 70 keeps its Remote IRR;
 * pin 100 is retried (still nobody).  Once CPU 1 is enabled the next EOI
 * broadcast gets pin 100 accepted.  The machine stays consistent.
 */
static void test_ioapic_eoi_many_pins_ascending(void **state)
{
    th_host *h = *state;
    intc_machine *m = many_pins_machine(h);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l0 = cpu(m, 0);
    assert_int_equal(intc_ioapic_pin_count(io), 120);

    many_pins_raise(m);
    for (unsigned i = 0; i < 4; i++)
        assert_true(remote_irr(io, lv[i]));
    assert_true(remote_irr(io, 70));
    assert_false(remote_irr(io, 100));
    assert_true(delivs(io, 100));
    assert_true(irr(l0, 0x40));
    assert_true(tmr(l0, 0x40));
    assert_true(irr(l0, 0x30));
    /* CPUs 2 and 3 take theirs and hold them in service. */
    for (uint32_t c = 2; c < 4; c++) {
        assert_true(tmr(cpu(m, c), 0x40));
        assert_int_equal(intc_lapic_ack(cpu(m, c)), 0x40);
        assert_false(irr(cpu(m, c), 0x40));
    }
    check(m);

    /* Pin 63's device lets go; Remote IRR stays until the EOI. */
    assert_int_equal(intc_ioapic_set_irq(io, 63, false), INTC_OK);
    assert_true(remote_irr(io, 63));

    assert_int_equal(intc_lapic_ack(l0), 0x40);
    assert_false(irr(l0, 0x40));
    th_clear_events(h);
    eoi(l0);
    th_assert_event(h, INTC_EV_EOI_BROADCAST, 0, 0x40);
    assert_true(remote_irr(io, 5));
    assert_false(remote_irr(io, 63));
    assert_true(remote_irr(io, 64));
    assert_true(remote_irr(io, 119));
    assert_true(remote_irr(io, 70));
    assert_false(remote_irr(io, 100));
    assert_true(delivs(io, 100));
    /* Re-delivered: pin 5 to CPU 0, pin 64 to CPU 2, pin 119 to CPU 3. */
    assert_true(irr(l0, 0x40));
    assert_true(irr(cpu(m, 2), 0x40));
    assert_true(irr(cpu(m, 3), 0x40));
    assert_false(irr(cpu(m, 1), 0x48));
    {
        static const uint32_t cleared[4] = {5, 63, 64, 119};
        static const uint32_t resent[3] = {5, 64, 119};
        static const uint32_t sent[4] = {5, 64, 100, 119};
        assert_pins(h, INTC_EV_REMOTE_IRR, -1, 0, cleared, 4);
        assert_pins(h, INTC_EV_IOAPIC_SEND, 1, -1, resent, 3);
        assert_pins(h, INTC_EV_IOAPIC_SEND, -1, -1, sent, 4);
    }
    check(m);

    /* CPU 1 comes up; the next EOI broadcast (0x40 again: pins 5, 64
       and 119 are still asserted) retries pin 100, now accepted. */
    sw_enable(cpu(m, 1));
    assert_int_equal(intc_lapic_ack(l0), 0x40);
    eoi(l0);
    assert_true(remote_irr(io, 100));
    assert_false(delivs(io, 100));
    assert_true(irr(cpu(m, 1), 0x48));
    check(m);

    /* Everything let go: the remaining EOIs clear it all. */
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(intc_ioapic_set_irq(io, lv[i], false), INTC_OK);
    assert_int_equal(intc_ioapic_set_irq(io, 70, false), INTC_OK);
    assert_int_equal(intc_ioapic_set_irq(io, 100, false), INTC_OK);
    for (uint32_t c = 0; c < 4; c++)
        drain(m, c);
    for (uint32_t p = 0; p < 120; p++)
        assert_false(remote_irr(io, p));
    assert_no_irr(m);
    check(m);
    intc_machine_free(m);
}

/* The state of the same machine, set up as in the test above up to the
   first EOI: Remote IRR on 5, 63, 64, 119 (0x40) and 70 (0x30), pin 100
   send pending, CPUs 2 and 3 holding 0x40 in service, pin 63's line
   down. */
static void many_pins_state(intc_machine *m)
{
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    many_pins_raise(m);
    for (uint32_t c = 2; c < 4; c++)
        assert_int_equal(intc_lapic_ack(cpu(m, c)), 0x40);
    assert_int_equal(intc_ioapic_set_irq(io, 63, false), INTC_OK);
}

/* machine.h snapshots: the set of pins an EOI visits is derived state;
   a machine restored from an image taken with Remote IRR set on pins in
   both words and a send-pending pin answers the EOI exactly as the
   original (82093AA 3.2.4, SDM 11.8.5): Remote IRR cleared on all four
   0x40 pins, re-delivered on the asserted ones, pin 100 retried. */
static void test_ioapic_eoi_many_pins_after_snapshot(void **state)
{
    th_host *h = *state;
    intc_machine *a = many_pins_machine(h);
    many_pins_state(a);
    check(a);
    size_t need = 0;
    assert_int_equal(intc_machine_save(a, NULL, 0, &need), INTC_ERR_NOSPC);
    void *img = malloc(need);
    assert_non_null(img);
    assert_int_equal(intc_machine_save(a, img, need, NULL), INTC_OK);
    intc_machine_free(a);

    intc_machine *m = many_pins_machine(h);
    assert_int_equal(intc_machine_load(m, img, need), INTC_OK);
    free(img);
    check(m);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    for (unsigned i = 0; i < 4; i++)
        assert_true(remote_irr(io, lv[i]));
    assert_true(remote_irr(io, 70));
    assert_true(delivs(io, 100));

    intc_lapic *l0 = cpu(m, 0);
    assert_int_equal(intc_lapic_ack(l0), 0x40);
    th_clear_events(h);
    eoi(l0);
    assert_true(remote_irr(io, 5));
    assert_false(remote_irr(io, 63));
    assert_true(remote_irr(io, 64));
    assert_true(remote_irr(io, 119));
    assert_true(remote_irr(io, 70));
    assert_true(delivs(io, 100));
    assert_true(irr(l0, 0x40));
    assert_true(irr(cpu(m, 2), 0x40));
    assert_true(irr(cpu(m, 3), 0x40));
    {
        static const uint32_t cleared[4] = {5, 63, 64, 119};
        static const uint32_t sent[4] = {5, 64, 100, 119};
        assert_pins(h, INTC_EV_REMOTE_IRR, -1, 0, cleared, 4);
        assert_pins(h, INTC_EV_IOAPIC_SEND, -1, -1, sent, 4);
    }
    check(m);
    intc_machine_free(m);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, th_setup, th_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_accepted_counts_acceptors),
        T(test_no_target),
        T(test_dropped_decode_reasons),
        T(test_dropped_ext_dest_bits),
        T(test_dropped_remappable_without_remapping),
        T(test_blocked_vtd_reasons),
        T(test_remapped_vtd_outcomes),
        T(test_posted_vtd_outcome),
        T(test_msix_outcomes),
        T(test_msi_capability_outcomes),
        T(test_irq_deliver_outcomes),
        T(test_fault_event_feaddr_zero_not_delivered),
        T(test_fault_event_feaddr_memory_not_delivered),
        T(test_completion_event_ieaddr_zero_not_delivered),
        T(test_completion_event_ieaddr_memory_not_delivered),
        T(test_event_messages_eim_low_address_refused),
        T(test_fault_event_uses_address_at_unmask),
        T(test_ioapic_message_dropped_without_remapping),
        T(test_posted_level_ioapic_remote_irr),
        T(test_ioapic_eoi_many_pins_ascending),
        T(test_ioapic_eoi_many_pins_after_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
