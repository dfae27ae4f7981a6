/*
 * x2APIC mode (SDM 11.12): the switch on every CPU through
 * IA32_APIC_BASE.EXTD with the register rules that come with it, then
 * IPIs through the 64-bit ICR MSR 0x830 (11.12.9) in physical and logical
 * (cluster, 11.12.10.2) destination mode, the shorthands, and self IPIs
 * through the ICR and the SELF IPI MSR 0x83F (11.12.11).
 */
#include "tests.h"

static uint32_t x2id[MAX_CPUS];

/* #GP expected from one RDMSR/WRMSR: isr_c skips the instruction. */
static bool gp_rdmsr(uint32_t msr)
{
    struct cpu *c = this_cpu();
    uint32_t before = c->gp;
    c->gp_expect = true;
    (void)rdmsr(msr);
    c->gp_expect = false;
    return c->gp != before;
}

static bool gp_wrmsr(uint32_t msr, uint64_t v)
{
    struct cpu *c = this_cpu();
    uint32_t before = c->gp;
    c->gp_expect = true;
    wrmsr(msr, v);
    c->gp_expect = false;
    return c->gp != before;
}

static int to_x2apic(bool checks)
{
    struct cpu *c = this_cpu();
    uint32_t r[4];
    uint32_t ver = mmio_read32(LAPIC_PHYS + APIC_VER);

    /* 11.12.2: "Accessing any APIC register in the MSR address range
       0800H through 0BFFH via RDMSR or WRMSR when the local APIC is not
       in x2APIC mode causes a general-protection exception." */
    if (checks)
        EXPECT(gp_rdmsr(X2APIC_MSR(APIC_ID)), "RDMSR 0x802 in xAPIC mode did not raise #GP");
    /* 11.12.1: EXTD = 1 with EN = 1 enters x2APIC mode. */
    uint64_t b = rdmsr(MSR_APIC_BASE);
    wrmsr(MSR_APIC_BASE, b | APIC_BASE_EN | APIC_BASE_EXTD);
    CHECK(rdmsr(MSR_APIC_BASE) & APIC_BASE_EXTD, "IA32_APIC_BASE %lx: EXTD did not stick",
          rdmsr(MSR_APIC_BASE));
    c->x2 = true;
    uint32_t id = (uint32_t)rdmsr(X2APIC_MSR(APIC_ID));
    x2id[c->index] = id;
    if (!checks)
        return RES_PASS;

    /* 11.12.5.1 / 11.12.8: the x2APIC ID is the one CPUID.0BH:EDX
       reports, and its low 8 bits the initial APIC ID of
       CPUID.01H:EBX[31:24]. */
    cpuid(0xb, 0, r);
    EXPECT(id == r[3], "x2APIC ID %u, CPUID.0BH:EDX %u", id, r[3]);
    cpuid(1, 0, r);
    EXPECT((id & 0xff) == r[1] >> 24, "x2APIC ID %u, initial APIC ID %u", id, r[1] >> 24);
    EXPECT(id == c->apic_id, "x2APIC ID %u, xAPIC ID was %u", id, c->apic_id);
    /* 11.12.10.2: LDR = cluster ID[19:4] << 16 | 1 << ID[3:0]. */
    uint32_t ldr = (uint32_t)rdmsr(X2APIC_MSR(APIC_LDR));
    uint32_t want = (id >> 4) << 16 | 1u << (id & 15);
    EXPECT(ldr == want, "x2APIC LDR %x, expected %x for ID %u", ldr, want, id);
    /* Table 11-6: the same version register in both modes. */
    EXPECT((uint32_t)rdmsr(X2APIC_MSR(APIC_VER)) == ver, "version %x in x2APIC mode, %x in xAPIC mode",
           (uint32_t)rdmsr(X2APIC_MSR(APIC_VER)), ver);
    /* 11.12.1.2: no DFR (80EH) and no ICR high half (831H): #GP. */
    EXPECT(gp_rdmsr(0x80e), "RDMSR 0x80E (no DFR in x2APIC mode) did not raise #GP");
    EXPECT(gp_rdmsr(0x831), "RDMSR 0x831 (no ICR2 in x2APIC mode) did not raise #GP");
    /* Table 11-6: "WRMSR of a non-zero value [to EOI] causes #GP(0)". */
    EXPECT(gp_wrmsr(X2APIC_MSR(APIC_EOI), 1), "WRMSR 0x80B with a non-zero value did not raise #GP");
    /* 11.12.1 / 11.12.5: x2APIC -> xAPIC (EN = 1, EXTD = 0) is illegal. */
    bool gp = gp_wrmsr(MSR_APIC_BASE, (b | APIC_BASE_EN) & ~(uint64_t)APIC_BASE_EXTD);
    EXPECT(gp, "WRMSR IA32_APIC_BASE EN=1 EXTD=0 from x2APIC mode did not raise #GP");
    if (!(rdmsr(MSR_APIC_BASE) & APIC_BASE_EXTD)) {
        note_fail("that WRMSR left x2APIC mode");
        c->x2 = false;
        wrmsr(MSR_APIC_BASE, b | APIC_BASE_EN | APIC_BASE_EXTD);
        c->x2 = true;
    }
    /* The x2APIC SVR keeps the APIC software-enabled. */
    EXPECT(apic_read(APIC_SVR) & 0x100, "SVR %x after the switch", apic_read(APIC_SVR));
    return soft_result();
}

static int x2_fn(void *arg)
{
    return to_x2apic(arg != 0);
}

static int enable_all(bool checks)
{
    TRY(need_feature(has_x2apic(), require_x2apic, "x2APIC (CPUID.01H:ECX[21])"));
    /* APs first, kicked while every APIC is still in xAPIC mode; the
       BSP last: no IPI crosses modes. */
    for (unsigned i = 1; i < ncpus; i++)
        post_on(i, x2_fn, (void *)(uintptr_t)checks);
    int r = RES_PASS;
    for (unsigned i = 1; i < ncpus; i++) {
        int ri = wait_on(i, WAIT_MS);
        if (ri != RES_PASS && r == RES_PASS)
            r = ri;
    }
    int rb = to_x2apic(checks);
    return r != RES_PASS ? r : rb;
}

int x2apic_enable_all(void) { return enable_all(false); }

static int t_x2apic_switch(void)
{
    return enable_all(true);
}

static uint32_t all_cpus(void) { return (1u << ncpus) - 1; }

static int t_x2apic_ipi_physical(void)
{
    char what[64];
    TRY(x2apic_enable_all());
    for (unsigned i = 1; i < ncpus; i++) {
        snprintk(what, sizeof what, "x2APIC physical destination %u", x2id[i]);
        TRY(ipi_expect(x2id[i], ICR_FIXED | 0xa0, 1u << i, what));
    }
    /* 11.12.9: destination 0xFFFFFFFF is the broadcast. */
    return ipi_expect(0xffffffffu, ICR_FIXED | 0xa1, all_cpus(), "x2APIC physical destination 0xFFFFFFFF");
}

/* The logical destination that names the CPUs in mask, when they are in
   one cluster; 0 if they are not. */
static uint32_t x2_mda(uint32_t mask)
{
    uint32_t cluster = 0xffffffffu, bits = 0;
    for (unsigned i = 0; i < ncpus; i++) {
        if (!(mask >> i & 1))
            continue;
        if (cluster != 0xffffffffu && cluster != x2id[i] >> 4)
            return 0;
        cluster = x2id[i] >> 4;
        bits |= 1u << (x2id[i] & 15);
    }
    return cluster << 16 | bits;
}

static int t_x2apic_ipi_logical(void)
{
    static const uint32_t sets[] = {0x0e, 0x0a, 0x04, 0x05};
    char what[64];
    TRY(x2apic_enable_all());
    /* 11.12.10.2: MDA[31:16] selects the cluster, MDA[15:0] the members. */
    for (unsigned k = 0; k < sizeof sets / sizeof sets[0]; k++) {
        uint32_t m = sets[k] & all_cpus();
        uint32_t mda = x2_mda(m);
        if (!m || !mda)
            continue;
        snprintk(what, sizeof what, "x2APIC logical MDA %x", mda);
        TRY(ipi_expect(mda, ICR_FIXED | ICR_LOGICAL | (0xa2 + k), m, what));
    }
    /* A cluster with no members named: nobody. */
    return ipi_expect(0x00050000u | 0x2, ICR_FIXED | ICR_LOGICAL | 0xa7, 0, "x2APIC logical MDA 50002");
}

static int t_x2apic_shorthand(void)
{
    TRY(x2apic_enable_all());
    TRY(ipi_expect(0, ICR_ALL | ICR_FIXED | 0xa8, all_cpus(), "x2APIC shorthand all-including-self"));
    return ipi_expect(0, ICR_OTHERS | ICR_FIXED | 0xa9, all_cpus() & ~1u, "x2APIC shorthand all-excluding-self");
}

static int t_x2apic_self_ipi(void)
{
    TRY(x2apic_enable_all());
    handlers[0xaa] = h_observe_handler;
    handlers[0xab] = h_observe_handler;
    reset_counts();
    cli();
    CHECK(send_ipi(0, ICR_SELF | ICR_FIXED | 0xaa), "ICR write failed");
    TRY(check_self_delivery(0xaa, "x2APIC ICR shorthand self"));
    /* 11.12.11: a write of the vector to SELF IPI (83FH) is a fixed,
       edge-triggered self IPI. */
    cli();
    wrmsr(X2APIC_MSR(APIC_SELF_IPI), 0xab);
    TRY(check_self_delivery(0xab, "x2APIC SELF IPI MSR"));
    for (unsigned i = 1; i < ncpus; i++)
        CHECK(cpus[i].cnt[0xaa] + cpus[i].cnt[0xab] == 0, "cpu %u took a self IPI", i);
    return RES_PASS;
}

const struct test x2apic_tests[] = {
    {"x2apic_switch", t_x2apic_switch},
    {"x2apic_ipi_physical", t_x2apic_ipi_physical},
    {"x2apic_ipi_logical", t_x2apic_ipi_logical},
    {"x2apic_shorthand", t_x2apic_shorthand},
    {"x2apic_self_ipi", t_x2apic_self_ipi},
    {0, 0},
};
