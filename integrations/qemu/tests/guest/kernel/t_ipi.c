/*
 * IPIs in xAPIC mode (SDM 11.6): the self shorthand and a physical
 * self-destination, physical destinations and the 0xFF broadcast, the
 * logical flat and cluster models, the all-including and all-excluding
 * shorthands, lowest-priority delivery and NMI.  expect_counts and the
 * IPI helpers are shared with the x2APIC tests (t_x2apic.c).
 */
#include "kernel.h"
#include "tests.h"

static char *fmt_counts(char *buf, size_t n, unsigned v, const uint32_t *want)
{
    char *p = buf, *end = buf + n;
    p += snprintk(p, (size_t)(end - p), "vector %x taken [", v);
    for (unsigned i = 0; i < ncpus; i++)
        p += snprintk(p, (size_t)(end - p), i ? " %u" : "%u", cpus[i].cnt[v]);
    p += snprintk(p, (size_t)(end - p), "] by cpu 0..%u, expected [", ncpus - 1);
    for (unsigned i = 0; i < ncpus; i++)
        p += snprintk(p, (size_t)(end - p), i ? " %u" : "%u", want[i]);
    snprintk(p, (size_t)(end - p), "]");
    return buf;
}

/* Wait until every CPU took v as often as want says, then SETTLE_MS for
   extra ones; false with the counts in buf if they differ. */
static bool counts_match(unsigned v, const uint32_t *want, char *buf, size_t n)
{
    uint64_t end = rdtsc() + ms_to_tsc(WAIT_MS);
    for (;;) {
        bool all = true;
        for (unsigned i = 0; i < ncpus; i++)
            all &= cpus[i].cnt[v] >= want[i];
        if (all || rdtsc() > end)
            break;
        pause();
    }
    delay_ms(SETTLE_MS);
    for (unsigned i = 0; i < ncpus; i++)
        if (cpus[i].cnt[v] != want[i]) {
            fmt_counts(buf, n, v, want);
            return false;
        }
    return true;
}

int expect_counts(unsigned v, const uint32_t *want, const char *what)
{
    char buf[160];
    if (!counts_match(v, want, buf, sizeof buf))
        return fail("%s: %s", what, buf);
    return RES_PASS;
}

void expect_counts_soft(unsigned v, const uint32_t *want, const char *what)
{
    char buf[160];
    if (!counts_match(v, want, buf, sizeof buf))
        note_fail("%s: %s", what, buf);
}

/* want[i] = 1 for the CPUs whose bit is set in mask. */
void want_mask(uint32_t *want, uint32_t mask)
{
    for (unsigned i = 0; i < MAX_CPUS; i++)
        want[i] = mask >> i & 1;
}

int ipi_expect(uint32_t dest, uint32_t icr, uint32_t cpu_mask, const char *what)
{
    uint32_t want[MAX_CPUS];
    unsigned v = icr & 0xff;
    reset_counts();
    CHECK(send_ipi(dest, icr), "%s: ICR delivery status stayed send-pending", what);
    want_mask(want, cpu_mask);
    return expect_counts(v, want, what);
}

static uint32_t all_mask(void) { return (1u << ncpus) - 1; }

/* ---- self ---------------------------------------------------------------- */

static volatile uint32_t seen_isr, seen_tmr, seen_ppr;

void h_observe_handler(struct frame *f, struct cpu *c)
{
    (void)c;
    unsigned v = (unsigned)f->vector;
    seen_isr = apic_isr(v);
    seen_tmr = apic_tmr(v);
    seen_ppr = apic_read(APIC_PPR);
    apic_eoi();
}

/* An interrupt accepted with IF = 0 waits in IRR (11.8.4); taken, it is
   in ISR and PPR is its class (11.8.3.1); EOI clears ISR (11.8.5); an
   edge-triggered one leaves TMR clear (11.8.4). */
int check_self_delivery(unsigned v, const char *how)
{
    struct cpu *me = this_cpu();
    CHECK(apic_irr(v), "%s: vector %x not in IRR with IF = 0", how, v);
    CHECK(me->cnt[v] == 0, "%s: taken with IF = 0", how);
    sti();
    CHECK(wait_ge(&me->cnt[v], 1, WAIT_MS), "%s: vector %x never taken after STI", how, v);
    delay_ms(SETTLE_MS);
    CHECK(me->cnt[v] == 1, "%s: vector %x taken %u times", how, v, me->cnt[v]);
    CHECK(seen_isr, "%s: ISR bit %x clear in the handler", how, v);
    CHECK(!seen_tmr, "%s: TMR bit %x set for an edge-triggered IPI", how, v);
    CHECK(seen_ppr == (v & 0xf0), "%s: PPR %x in the handler of %x (TPR 0)", how, seen_ppr, v);
    CHECK(!apic_isr(v) && !apic_irr(v), "%s: ISR/IRR bit %x still set after EOI", how, v);
    return RES_PASS;
}

static int t_self_ipi(void)
{
    struct cpu *me = this_cpu();
    handlers[0x41] = h_observe_handler;
    handlers[0x42] = h_observe_handler;
    reset_counts();
    cli();
    CHECK(send_ipi(0, ICR_SELF | ICR_FIXED | 0x41), "ICR stayed send-pending");
    TRY(check_self_delivery(0x41, "ICR shorthand self"));
    /* No shorthand, physical destination = own APIC ID (11.6.2.1). */
    cli();
    CHECK(send_ipi(me->apic_id, ICR_FIXED | 0x42), "ICR stayed send-pending");
    TRY(check_self_delivery(0x42, "physical destination = own ID"));
    CHECK(cpus[1].cnt[0x41] + cpus[1].cnt[0x42] == 0, "an AP took the self IPI");
    return RES_PASS;
}

/* ---- physical -------------------------------------------------------------- */

static int t_ipi_physical(void)
{
    char what[64];
    for (unsigned i = 1; i < ncpus; i++) {
        snprintk(what, sizeof what, "physical destination %u", cpus[i].apic_id);
        TRY(ipi_expect(cpus[i].apic_id, ICR_FIXED | 0x43, 1u << i, what));
    }
    /* 11.6.2.1: destination 0xFF in xAPIC mode is the broadcast ID. */
    return ipi_expect(0xff, ICR_FIXED | 0x44, all_mask(), "physical destination 0xFF (broadcast)");
}

/* ---- logical --------------------------------------------------------------- */

static int t_ipi_logical_flat(void)
{
    TRY(set_logical_flat());
    /* 11.6.2.2 flat model: a CPU accepts when MDA & LDR[31:24] != 0. */
    TRY(ipi_expect(0x0a, ICR_FIXED | ICR_LOGICAL | 0x45, 0x0a & all_mask(), "logical flat MDA 0x0a"));
    TRY(ipi_expect(0x05, ICR_FIXED | ICR_LOGICAL | 0x46, 0x05 & all_mask(), "logical flat MDA 0x05"));
    TRY(ipi_expect(0x00, ICR_FIXED | ICR_LOGICAL | 0x47, 0, "logical flat MDA 0x00"));
    return ipi_expect(0xff, ICR_FIXED | ICR_LOGICAL | 0x48, all_mask(), "logical flat MDA 0xFF (broadcast)");
}

/* CPU i: cluster i / 2, member bit i % 2.  11.6.2.2 (notes): "If you
   are using cluster mode, DFRs must be programmed before the APIC is
   software enabled": disabled around the change. */
static int cluster_fn(void *arg)
{
    (void)arg;
    struct cpu *c = this_cpu();
    uint32_t ldr = (c->index / 2) << 4 | 1u << (c->index % 2);
    uint32_t svr = apic_read(APIC_SVR);
    apic_write(APIC_SVR, svr & ~0x100u);
    apic_write(APIC_DFR, 0x0fffffffu);
    apic_write(APIC_LDR, ldr << 24);
    apic_write(APIC_SVR, svr);
    CHECK(apic_read(APIC_DFR) >> 28 == 0, "DFR model %x after writing cluster (0)", apic_read(APIC_DFR) >> 28);
    CHECK(apic_read(APIC_LDR) >> 24 == ldr, "LDR %x after writing %x", apic_read(APIC_LDR), ldr << 24);
    return RES_PASS;
}

static uint32_t cluster_cpus(uint8_t mda)
{
    uint32_t m = 0;
    for (unsigned i = 0; i < ncpus; i++)
        if ((mda >> 4) == i / 2 && (mda & 0xf & (1u << (i % 2))))
            m |= 1u << i;
    return m;
}

static int t_ipi_logical_cluster(void)
{
    static const uint8_t mdas[] = {0x12, 0x03, 0x11, 0x01, 0x23};
    char what[64];
    for (unsigned i = 0; i < ncpus; i++)
        TRY(run_on(i, cluster_fn, 0, 1000));
    /* 11.6.2.2 cluster model: MDA[7:4] selects the cluster, MDA[3:0]
       the members; a CPU accepts if its cluster matches and the bit
       sets intersect. */
    for (unsigned k = 0; k < sizeof mdas; k++) {
        snprintk(what, sizeof what, "logical cluster MDA %x", mdas[k]);
        TRY(ipi_expect(mdas[k], ICR_FIXED | ICR_LOGICAL | (0x50 + k), cluster_cpus(mdas[k]), what));
    }
    /* 11.6.2.2: "Broadcast to all local APICs is achieved by setting all
       destination bits to one.  This guarantees a match on all clusters
       and selects all APICs in each cluster." (the flat-cluster text). */
    return ipi_expect(0xff, ICR_FIXED | ICR_LOGICAL | 0x58, all_mask(), "logical cluster MDA 0xFF (broadcast)");
}

/* ---- shorthands ------------------------------------------------------------ */

static int t_ipi_all_incl(void)
{
    /* 11.6.1: shorthand 10b, all including self. */
    return ipi_expect(0, ICR_ALL | ICR_FIXED | 0x60, all_mask(), "shorthand all-including-self");
}

static int t_ipi_all_excl(void)
{
    /* 11.6.1: shorthand 11b, all excluding self. */
    return ipi_expect(0, ICR_OTHERS | ICR_FIXED | 0x61, all_mask() & ~1u, "shorthand all-excluding-self");
}

/* ---- lowest priority ------------------------------------------------------- */

/* 11.6.2.4: a lowest-priority interrupt goes to the processor in the
   destination set with the lowest priority; with the processors idle
   (nothing in ISR or IRR) that is the lowest TPR (11.8.3.1: PPR = TPR,
   and the P6 arbitration priority is TPR too).  Rounds move the lowest
   TPR across every AP, the one with the lowest APIC ID last, so a fabric
   that always picks one CPU of the set fails a round.  send(mask,
   vector) sends to the APs in mask (logical flat MDA). */
int lowest_priority_rounds(int (*send)(uint32_t mask, unsigned v), const char *how)
{
    uint8_t tpr[MAX_CPUS];
    uint32_t want[MAX_CPUS];
    uint32_t set = all_mask() & ~1u;
    char what[80];
    for (unsigned lo = ncpus - 1; lo >= 1; lo--) {
        for (unsigned i = 0; i < ncpus; i++)
            tpr[i] = i == 0 ? 0 : i == lo ? 0x10 : (uint8_t)(0x20 + 0x10 * (i % 3));
        set_tpr_all(tpr);
        unsigned v = 0x70 + lo;
        reset_counts();
        TRY(send(set, v));
        want_mask(want, 1u << lo);
        snprintk(what, sizeof what, "%s, TPR %x on cpu %u, higher on cpus 1..%u", how, tpr[lo], lo,
                 ncpus - 1);
        int r = expect_counts(v, want, what);
        uint8_t zero[MAX_CPUS] = {0};
        set_tpr_all(zero);
        TRY(r);
    }
    return RES_PASS;
}

static int send_lowest_ipi(uint32_t mask, unsigned v)
{
    CHECK(send_ipi(mask, ICR_LOWEST | ICR_LOGICAL | v), "ICR stayed send-pending");
    return RES_PASS;
}

static int t_ipi_lowest_priority(void)
{
    TRY(set_logical_flat());
    return lowest_priority_rounds(send_lowest_ipi, "lowest-priority IPI, logical flat");
}

/* ---- NMI -------------------------------------------------------------------- */

static volatile uint32_t nmi_spinning;

/* With IF = 0, wait for an NMI (SDM 6.8.1: IF does not mask NMI). */
static int nmi_wait_fn(void *arg)
{
    (void)arg;
    struct cpu *c = this_cpu();
    cli();
    __atomic_add_fetch(&nmi_spinning, 1, __ATOMIC_SEQ_CST);
    bool got = wait_ge(&c->nmi, 1, WAIT_MS);
    sti();
    CHECK(got, "no NMI with IF = 0");
    return RES_PASS;
}

static int t_nmi_ipi(void)
{
    for (unsigned i = 1; i < ncpus; i++) {
        reset_counts();
        nmi_spinning = 0;
        post_on(i, nmi_wait_fn, 0);
        CHECK(wait_ge(&nmi_spinning, 1, WAIT_MS), "cpu %u did not start its wait", i);
        /* 11.6.1: delivery mode 100b, the vector field is ignored. */
        CHECK(send_ipi(cpus[i].apic_id, ICR_NMI | 0x23), "ICR stayed send-pending");
        TRY(wait_on(i, 2 * WAIT_MS));
        delay_ms(SETTLE_MS);
        for (unsigned j = 0; j < ncpus; j++)
            CHECK(cpus[j].nmi == (j == i), "NMI to APIC ID %u: cpu %u took %u NMIs", cpus[i].apic_id, j,
                  cpus[j].nmi);
        CHECK(cpus[i].cnt[0x23] == 0, "the NMI IPI's vector field was delivered as an interrupt");
    }
    return RES_PASS;
}

const struct test ipi_tests[] = {
    {"self_ipi", t_self_ipi},
    {"ipi_physical", t_ipi_physical},
    {"ipi_logical_flat", t_ipi_logical_flat},
    {"ipi_logical_cluster", t_ipi_logical_cluster},
    {"ipi_all_incl", t_ipi_all_incl},
    {"ipi_all_excl", t_ipi_all_excl},
    {"ipi_lowest_priority", t_ipi_lowest_priority},
    {"nmi_ipi", t_nmi_ipi},
    {0, 0},
};
