/*
 * Benchmark loops, not tests: the guest side of bench/qemu_cost.sh
 * (issue 14, point 5; docs/performance.md, "QEMU: the guest's round
 * trips"), which runs each under callgrind with two counts and divides
 * the difference in host instructions by the difference in counts.
 *
 *   test=bench_ipi n=N         N fixed-IPI round trips CPU 0 -> 1 -> 0
 *                              through the xAPIC page (MMIO)
 *   test=bench_ipi_x2apic n=N  the same through the x2APIC MSRs
 *   test=bench_msi n=N         N edu MSIs to CPU 0, EOI through the xAPIC
 *                              page
 *   test=bench_msi_x2apic n=N  the same with CPU 0 in x2APIC mode (EOI by
 *                              WRMSR)
 *   test=bench_msi_ir n=N      bench_msi with VT-d interrupt remapping on
 *                              (QEMU started with intel-iommu,intremap=on
 *                              and iommu=vtd): edu's MSI in remappable
 *                              format through IRTE 0, source-id verified
 *                              (t_ir.c's set-up)
 *   test=bench_msi_ir_amd n=N  bench_msi through AMD-Vi interrupt
 *                              remapping (amd-iommu,intremap=on and
 *                              iommu=amdvi): edu's DTE, 32-bit IRTE 0,
 *                              MSI data = index 0 (t_ir.c's
 *                              amd_bench_prepare)
 *
 * In the remapped cases the loop completing is the proof that the unit
 * remapped every message: unremapped, edu's message would carry vector 0
 * (AMD-Vi: data 0, the IRTE index) or be a remappable-format request the
 * APIC cannot take (VT-d), and CPU 0, halted with nothing else armed,
 * would never wake.
 *
 * They are in this file, not in a t_*.c table nor in test_groups, so
 * that neither ctest (CMakeLists.txt registers the {"name", t_...}
 * entries of t_*.c) nor test=list (run.sh's default run) sees them;
 * kmain finds them by name.  PASS means all N round trips completed,
 * each one exactly once; the count is what is measured, not the result.
 *
 * What one round trip is, on the guest side:
 *  - IPI: CPU 0 writes the ICR (xAPIC: ICR2 then ICR; x2APIC: WRMSR
 *    0x830) and halts; CPU 1, halted, takes vector BENCH_PING, EOIs and
 *    writes the ICR for BENCH_PONG to CPU 0; CPU 0 takes it and EOIs.
 *    No delivery-status poll: both fabrics deliver synchronously.
 *  - MSI: CPU 0 writes edu's raise register (edu_raise_irq ->
 *    msi_notify) and halts; it takes BENCH_MSI, its handler writes edu's
 *    acknowledge register (the driver's re-arm) and EOIs.
 *
 * Choices that keep the host count independent of host speed:
 *  - every wait is STI; HLT, never a spin: under -accel
 *    tcg,thread=single a spinning vCPU keeps the one TCG thread until
 *    the round-robin kick (every 100 ms of QEMU's virtual clock, i.e.
 *    of host time), so the work done would depend on how fast the host
 *    runs; a halted vCPU hands the thread on at once;
 *  - the handlers are interrupt-attribute functions on their own IDT
 *    gates, not isr_c: no RDTSC in the path (libintc's QEMU reads the
 *    TSC from the virtual clock, stock from the host's, a difference
 *    that is not the fabric's), the same few guest instructions on
 *    both QEMUs;
 *  - markers: bench_mark writes pc-testdev's I/O port 0xe0 (QEMU's
 *    test_ioport_write, which nothing else calls) just before the first
 *    round trip and just after the last, so callgrind's
 *    --dump-before=test_ioport_write splits the run into boot, loop and
 *    shutdown.
 */
#include "tests.h"

#define BENCH_PING 0x61
#define BENCH_PONG 0x62
#define BENCH_MSI 0x63
#define BENCH_N_DEFAULT 1000

struct interrupt_frame;

static volatile uint32_t pings, pongs, msis;
static volatile bool bench_x2; /* the CPUs' APICs are in x2APIC mode */
static uint32_t pong_dest;      /* CPU 0's APIC ID */
static uint64_t edu_bar;

/* pc-testdev's 4-byte I/O port at 0xe0 (hw/misc/pc-testdev.c). */
static void bench_mark(uint32_t what)
{
    outl(0xe0, what);
}

static void bench_eoi(void)
{
    if (bench_x2)
        wrmsr(X2APIC_MSR(APIC_EOI), 0);
    else
        mmio_write32(LAPIC_PHYS + APIC_EOI, 0);
}

/* A fixed, physical, edge IPI: what Linux's send path writes, without
   the ICR-idle wait before it (11.6.1, 11.12.9). */
static void bench_ipi_to(uint32_t dest, unsigned v)
{
    if (bench_x2) {
        wrmsr(X2APIC_MSR(APIC_ICR), (uint64_t)dest << 32 | ICR_FIXED | v);
    } else {
        mmio_write32(LAPIC_PHYS + APIC_ICR2, dest << 24);
        mmio_write32(LAPIC_PHYS + APIC_ICR, ICR_FIXED | v);
    }
}

__attribute__((interrupt)) static void h_ping(struct interrupt_frame *f)
{
    (void)f;
    pings++;
    bench_eoi();
    bench_ipi_to(pong_dest, BENCH_PONG);
}

__attribute__((interrupt)) static void h_pong(struct interrupt_frame *f)
{
    (void)f;
    pongs++;
    bench_eoi();
}

__attribute__((interrupt)) static void h_msi(struct interrupt_frame *f)
{
    (void)f;
    msis++;
    mmio_write32(edu_bar + EDU_ACK, 1);
    bench_eoi();
}

/* Halt with interrupts on until *count reaches want.  IF is 0 on entry
   and on return; STI's interrupt shadow covers HLT (kernel.h). */
static void wait_count(volatile uint32_t *count, uint32_t want)
{
    while (*count < want) {
        sti_hlt();
        cli();
    }
}

/* The x2APIC variants: need the CPUID bit, then every CPU switches. */
static int bench_setup(bool x2)
{
    if (x2) {
        TRY(x2apic_enable_all());
        bench_x2 = true;
    }
    return RES_PASS;
}

static int bench_report(const char *what, uint32_t n, uint32_t got)
{
    printk("BENCH %s n=%u round trips=%u\n", what, n, got);
    CHECK(got == n, "%s: %u of %u round trips", what, got, n);
    return RES_PASS;
}

static int ipi_loop(bool x2)
{
    uint32_t n = (uint32_t)cmdline_uint("n", BENCH_N_DEFAULT);
    CHECK(ncpus >= 2, "needs 2 CPUs, %u online", ncpus);
    TRY(bench_setup(x2));
    pong_dest = x2 ? (uint32_t)rdmsr(X2APIC_MSR(APIC_ID)) : cpus[0].apic_id;
    uint32_t ping_dest = cpus[1].apic_id; /* = its x2APIC ID (-smp) */
    idt_set(BENCH_PING, (uintptr_t)h_ping);
    idt_set(BENCH_PONG, (uintptr_t)h_pong);
    mfence();

    cli();
    bench_mark(1);
    for (uint32_t i = 1; i <= n; i++) {
        bench_ipi_to(ping_dest, BENCH_PING);
        wait_count(&pongs, i);
    }
    bench_mark(2);
    sti();
    CHECK(pings == n, "CPU 1 took %u pings for %u pongs", pings, pongs);
    return bench_report(x2 ? "ipi-x2apic" : "ipi-xapic", n, pongs);
}

enum { IR_NONE, IR_VTD, IR_AMD };

/* ir: through VT-d or AMD-Vi interrupt remapping, edu set up by t_ir.c. */
static int msi_loop(bool x2, int ir)
{
    static const char *const what[] = {"msi-xapic", "msi-remapped",
                                       "msi-remapped-amdvi"};
    uint32_t n = (uint32_t)cmdline_uint("n", BENCH_N_DEFAULT);
    struct edu e;
    if (ir == IR_VTD) {
        TRY(ir_bench_prepare(&e, BENCH_MSI));
    } else if (ir == IR_AMD) {
        TRY(amd_bench_prepare(&e, BENCH_MSI));
    } else {
        TRY(edu_open(&e));
        TRY(bench_setup(x2));
    }
    edu_bar = e.bar;
    idt_set(BENCH_MSI, (uintptr_t)h_msi);
    if (ir == IR_NONE)
        edu_msi_route(&e, cpus[0].apic_id, BENCH_MSI);
    mfence();

    cli();
    bench_mark(1);
    for (uint32_t i = 1; i <= n; i++) {
        mmio_write32(edu_bar + EDU_RAISE, 1);
        wait_count(&msis, i);
    }
    bench_mark(2);
    sti();
    edu_msi_off(&e);
    return bench_report(x2 ? "msi-x2apic" : what[ir], n, msis);
}

static int bench_ipi(void) { return ipi_loop(false); }
static int bench_ipi_x2apic(void) { return ipi_loop(true); }
static int bench_msi(void) { return msi_loop(false, IR_NONE); }
static int bench_msi_x2apic(void) { return msi_loop(true, IR_NONE); }
static int bench_msi_ir(void) { return msi_loop(false, IR_VTD); }
static int bench_msi_ir_amd(void) { return msi_loop(false, IR_AMD); }

const struct test bench_entries[] = {
    {"bench_ipi", bench_ipi},
    {"bench_ipi_x2apic", bench_ipi_x2apic},
    {"bench_msi", bench_msi},
    {"bench_msi_x2apic", bench_msi_x2apic},
    {"bench_msi_ir", bench_msi_ir},
    {"bench_msi_ir_amd", bench_msi_ir_amd},
    {0, 0},
};
