/*
 * Seed-corpus generator for the per-surface fuzz targets:
 *     gen_corpus DIR
 * writes DIR/fuzz_<target>/<name> (DIR/ is normally fuzz/corpus; the
 * fuzz_corpus build target does that, and the fuzz/corpus test checks the
 * committed files are exactly what this writes).  Deterministic: no
 * clock, no randomness.  Each seed is a short operation list in the
 * target's encoding (the opcode tables of fuzz_*.c and fuzz_iommu.h) that
 * reaches a feature: timers, IPIs, INIT/SIPI, LINT, level IOAPIC lines,
 * MSI-X/MSI, VT-d and AMD-Vi remapping, posting, queues.  The snapshot
 * seeds are real images saved from machines driven into several states,
 * the replay seeds real recordings of a short run on each configuration;
 * the scenario seeds are the project's scenario files (copied by the
 * fuzz/CMakeLists.txt replay from tests/sim and examples, so not here)
 * plus a few small ones.
 */
#include "fuzz_common.h"

#include <errno.h>
#include <sys/stat.h>

typedef struct buf {
    uint8_t b[1 << 16];
    size_t n;
} buf;

static buf B; /* the seed being built (a tool, not a library) */

static void u8(unsigned v) { B.b[B.n++] = (uint8_t)v; }
static void u16(unsigned v) { u8(v & 0xff); u8(v >> 8); }
static void u32(uint32_t v) { u16(v & 0xffff); u16(v >> 16); }
static void u64(uint64_t v) { u32((uint32_t)v); u32((uint32_t)(v >> 32)); }

static const char *g_dir;

static void mkdirs(const char *p)
{
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
        perror(p);
        exit(1);
    }
}

static void emit(const char *target, const char *name)
{
    char path[1024];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", g_dir, target);
    mkdirs(path);
    snprintf(path, sizeof path, "%s/%s/%s", g_dir, target, name);
    f = fopen(path, "wb");
    if (!f || fwrite(B.b, 1, B.n, f) != B.n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    B.n = 0;
}

static uint32_t n_cpus_of(unsigned sel)
{
    intc_machine_config cfg;
    intc_ioapic_config io[2];
    fz_config(sel, &cfg, io);
    return cfg.n_cpus;
}

/* ---- fuzz_lapic (opcodes of fuzz_lapic.c) ---- */
enum { L_MMIO_READ, L_MMIO_WRITE, L_REG, L_MSR_READ, L_MSR_WRITE,
       L_APIC_BASE, L_TPR, L_LINT, L_SERVICE, L_ADVANCE, L_RAISE_LVT,
       L_RESET, L_TSC_OFFSET, L_POST, L_SYNC_PIR, L_IPI, L_STALE,
       L_MACHINE_RESET, L_QUERY, L_X2REG };

static void l_reg(unsigned cpu, unsigned off, uint32_t v)
{
    u8(L_REG); u8(cpu); u8(off >> 4); u32(v);
}
static void l_x2(unsigned cpu, unsigned msr, uint64_t v)
{
    u8(L_X2REG); u8(cpu); u8(msr - 0x800);
    u32((uint32_t)v);
    if (msr == 0x830)
        u32((uint32_t)(v >> 32));
}
static void l_adv(uint32_t dt) { u8(L_ADVANCE); u8(0); u8(1); u32(dt); }
static void l_svc(unsigned cpu, unsigned how) { u8(L_SERVICE); u8(cpu); u8(how); }
static void l_ipi(unsigned cpu, uint32_t lo, uint32_t dest)
{
    u8(L_IPI); u8(cpu); u32(lo); u32(dest);
}

static void gen_lapic(void)
{
    const char *t = "fuzz_lapic";
    char name[64];

    for (unsigned sel = 0; sel < FZ_N_CONFIGS; sel++) {
        unsigned n = n_cpus_of(sel);
        /* xAPIC periodic timer, serviced. */
        u8(sel);
        l_reg(0, 0xf0, 0x1ff);
        l_reg(0, 0x3e0, 0xb);
        l_reg(0, 0x320, 0x20040);
        l_reg(0, 0x380, 1000);
        l_adv(4500);
        l_svc(0, 3);
        l_reg(0, 0x390, 0);
        u8(L_MMIO_READ); u8(0); u16(0x390); u8(2);
        u8(L_QUERY); u8(0);
        l_adv(100000);
        snprintf(name, sizeof name, "timer_periodic_%u", sel);
        emit(t, name);

        /* IPIs between every pair, INIT/SIPI to the last CPU. */
        u8(sel);
        for (unsigned c = 0; c < n; c++)
            l_reg(c, 0xf0, 0x1ff);
        for (unsigned c = 0; c < n; c++)
            l_ipi(c, 0x40 + c, (c + 1) % n);
        l_ipi(0, 0xc0050, 0);      /* all excluding self */
        l_ipi(0, 0x4500, n - 1);    /* INIT */
        l_svc(n - 1, 4 | (2 << 3)); /* take INIT */
        l_ipi(0, 0x4608, n - 1);    /* SIPI */
        l_svc(n - 1, 4 | (3 << 3)); /* take SIPI */
        for (unsigned c = 0; c < n; c++)
            l_svc(c, 3);
        snprintf(name, sizeof name, "ipi_init_sipi_%u", sel);
        emit(t, name);
    }

    /* x2APIC: TSC-deadline timer, self IPI, ICR, EOI, mode transitions. */
    for (unsigned sel = 0; sel < 2; sel++) {
        u8(sel);
        u8(L_APIC_BASE); u8(0); u8(1 | 2 | 4);
        l_x2(0, 0x80f, 0x1ff);
        l_x2(0, 0x832, 0x40045);
        u8(L_MSR_WRITE); u8(0); u8(0x81); u64(3000);
        l_adv(5000);
        l_svc(0, 3);
        l_x2(0, 0x83f, 0x46);
        l_x2(0, 0x830, 0x0000000100004047ull);
        l_x2(0, 0x808, 0x30);
        u8(L_MSR_READ); u8(0); u8(0x0a);
        l_svc(0, 3);
        u8(L_APIC_BASE); u8(0); u8(1);      /* x2APIC -> xAPIC: #GP */
        u8(L_APIC_BASE); u8(0); u8(0);      /* disable */
        u8(L_APIC_BASE); u8(0); u8(1);      /* re-enable xAPIC */
        snprintf(name, sizeof name, "x2apic_%u", sel);
        emit(t, name);
    }

    /* LINT0 ExtINT, LINT1 NMI, error LVT, CMCI/thermal/perf, CR8. */
    u8(0);
    l_reg(0, 0xf0, 0x1ff);
    l_reg(0, 0x350, 0x700);
    l_reg(0, 0x360, 0x400);
    l_reg(0, 0x370, 0x33);
    l_reg(0, 0x2f0, 0x34);
    l_reg(0, 0x330, 0x35);
    l_reg(0, 0x340, 0x36);
    u8(L_LINT); u8(0); u8(0 | 4);
    u8(L_LINT); u8(0); u8(1 | 4);
    l_svc(0, 4 | (4 << 3));
    l_svc(0, 4 | (0 << 3));
    u8(L_RAISE_LVT); u8(0); u8(0);
    u8(L_RAISE_LVT); u8(0); u8(2);
    u8(L_RAISE_LVT); u8(0); u8(3);
    u8(L_TPR); u8(0); u8(0x30);
    l_svc(0, 1);
    u8(L_TPR); u8(0); u8(0);
    l_svc(0, 3);
    u8(L_MMIO_WRITE); u8(0); u16(0x400); u8(2); u64(1); /* reserved */
    l_reg(0, 0x280, 0);
    u8(L_MMIO_READ); u8(0); u16(0x280); u8(2);
    emit(t, "lint_lvt_esr");

    /* Odd MMIO shapes, posted interrupts, resets. */
    u8(1);
    u8(L_MMIO_READ); u8(0); u16(0x21); u8(0);
    u8(L_MMIO_READ); u8(0); u16(0x82); u8(1);
    u8(L_MMIO_READ); u8(0); u16(0x308); u8(3);
    u8(L_MMIO_WRITE); u8(0); u16(0x84); u8(2); u64(0xff);
    u8(L_MMIO_WRITE); u8(0); u16(0x80); u8(3); u64(0xff);
    u8(L_MMIO_READ); u8(0); u16(0xffe); u8(2);
    u8(L_POST); u8(1); u8(0x61); u8(0);
    u8(L_POST); u8(1); u8(0x62); u8(3);
    u8(L_SYNC_PIR); u8(2); u64(0); u64(1ull << 3); u64(0); u64(1ull << 63);
    u8(L_TSC_OFFSET); u8(0); u64(1ull << 40);
    u8(L_RESET); u8(1); u8(1);
    u8(L_RESET); u8(1); u8(0);
    u8(L_STALE); u8(0);
    u8(L_MACHINE_RESET); u8(0); u8(0x5a);
    emit(t, "shapes_posted_reset");
}

/* ---- fuzz_ioapic ---- */
enum { I_MMIO_READ, I_MMIO_WRITE, I_INDIRECT, I_RTE, I_SET_IRQ,
       I_SET_IRQ_SOURCE, I_SET_GSI, I_SERVICE, I_LAPIC_WRITE, I_ADVANCE,
       I_STALE, I_DIRECTED_EOI, I_QUERY, I_ENABLE_ALL };

static void i_enable(unsigned sel, uint8_t low)
{
    unsigned n = n_cpus_of(sel);
    u8(I_ENABLE_ALL); u8(0);
    for (unsigned c = 0; c < n; c++)
        u8(low);
}
static void i_rte(unsigned io, unsigned pin, uint32_t lo, uint32_t hi)
{
    u8(I_RTE); u8(io); u8(pin); u32(lo); u32(hi);
}

static void gen_ioapic(void)
{
    const char *t = "fuzz_ioapic";
    static const unsigned sels[] = {0, 1, 2, 4, 6};
    char name[64];

    for (unsigned i = 0; i < sizeof sels / sizeof sels[0]; i++) {
        unsigned sel = sels[i];
        /* Edge pin 2 and a level, active-low PCI pin 16 with EOIs. */
        u8(sel);
        i_enable(sel, sel == 1 || sel == 6 ? 0xff : 0xff);
        i_rte(0, 2, 0x30, 0);
        u8(I_SET_IRQ); u8(0); u8(2 | 0x80);
        u8(I_SERVICE); u8(0); u8(3);
        u8(I_SET_IRQ); u8(0); u8(2);
        i_rte(0, 16 % (sel == 2 ? 24 : 24), 0xa031, 0);
        u8(I_SET_IRQ); u8(0); u8(16 | 0x80);
        for (unsigned k = 0; k < 6; k++) {
            u8(I_SERVICE); u8(0); u8(3);
        }
        u8(I_ADVANCE); u8(0); u16(5000);
        u8(I_SERVICE); u8(0); u8(3);
        u8(I_SET_IRQ_SOURCE); u8(0); u8(16); u8(3);
        u8(I_SET_IRQ); u8(0); u8(16);
        u8(I_QUERY); u8(0); u8(16);
        snprintf(name, sizeof name, "edge_level_%u", sel);
        emit(t, name);

        /* Logical lowest priority to all CPUs, NMI, ExtINT; GSIs. */
        u8(sel);
        i_enable(sel, 0xff);
        for (unsigned c = 0; c < n_cpus_of(sel); c++) {
            u8(I_LAPIC_WRITE); u8(c); u8(0xd0 >> 4); u32(1u << (24 + c % 8));
        }
        i_rte(0, 5, 0x931, 0xff000000u);
        u8(I_SET_GSI); u8(0); u8(5 | 0x80);
        u8(I_SERVICE); u8(1); u8(3);
        i_rte(0, 6, 0x400, 0);
        u8(I_SET_GSI); u8(0); u8(6 | 0x80);
        i_rte(0, 7, 0x10700, 0);
        u8(I_SET_GSI); u8(0); u8(7 | 0x80);
        u8(I_SET_GSI); u8(0); u8(30 | 0x80);
        snprintf(name, sizeof name, "logical_nmi_%u", sel);
        emit(t, name);
    }

    /* Directed EOI (config 1: SVR[12] and the IOAPIC EOI register). */
    u8(1);
    i_enable(1, 0xff);
    for (unsigned c = 0; c < 4; c++) {
        u8(I_LAPIC_WRITE); u8(c); u8(0xf); u32(0x11ff);
    }
    i_rte(0, 20, 0x8040, 0);
    u8(I_SET_IRQ); u8(0); u8(20 | 0x80);
    u8(I_SERVICE); u8(0); u8(3);
    u8(I_DIRECTED_EOI); u8(0); u8(0x40);
    u8(I_SERVICE); u8(0); u8(3);
    u8(I_DIRECTED_EOI); u8(0); u8(0x40);
    emit(t, "directed_eoi");

    /* Register shapes. */
    u8(0);
    u8(I_MMIO_WRITE); u8(0); u16(0); u8(0); u64(1);
    u8(I_MMIO_READ); u8(0); u16(0x10); u8(2);
    u8(I_MMIO_READ); u8(0); u16(0x12); u8(1);
    u8(I_MMIO_WRITE); u8(0); u16(0x10); u8(3); u64(~0ull);
    u8(I_INDIRECT); u8(0); u8(0); u32(0x0f000000);
    u8(I_INDIRECT); u8(0); u8(0x3f); u32(0x12345);
    u8(I_MMIO_READ); u8(0); u16(0x40); u8(2);
    u8(I_STALE); u8(0);
    emit(t, "registers");
}

/* ---- fuzz_msi ---- */
enum { M_SEND, M_MSIX_NEW, M_MSIX_FREE, M_TREAD, M_TWRITE, M_ENTRY, M_PBA,
       M_CONTROL, M_NOTIFY, M_MSIX_RESET, M_MSI_NEW, M_MSI_FREE, M_MREAD,
       M_MWRITE, M_MNOTIFY, M_MSI_RESET, M_SERVICE, M_LAPIC, M_ENABLE,
       M_ADVANCE };

static void m_send(uint32_t addr_low, uint32_t data, uint16_t sid)
{
    u8(M_SEND); u8(0); u8(0); u32(addr_low); u8(0); u32(data); u16(sid);
}
static void m_enable(unsigned sel)
{
    unsigned n = n_cpus_of(sel);
    u8(M_ENABLE); u8(0);
    for (unsigned c = 0; c < n; c++)
        u8(0xff);
}

static void gen_msi(void)
{
    const char *t = "fuzz_msi";
    char name[64];

    for (unsigned sel = 0; sel < FZ_N_CONFIGS; sel += 3) {
        /* Messages of every kind. */
        u8(sel);
        m_enable(sel);
        m_send(0x00000, 0x41, 0x10);
        m_send(0x0100c, 0x4142, 0x10);   /* RH, logical, lowest */
        m_send(0x00000, 0x0400, 0x10);   /* NMI */
        m_send(0x00000, 0x0700, 0x10);   /* ExtINT */
        m_send(0x00000, 0xc043, 0x10);   /* level assert */
        m_send(0x00000, 0x8043, 0x10);   /* level de-assert: dropped */
        m_send(0x00000, 0x0300, 0x10);   /* reserved mode */
        m_send(0x00020, 0x44, 0x10);     /* extended destination */
        m_send(0x00010, 0x44, 0x10);     /* remappable */
        m_send(0xff000, 0x45, 0x10);     /* broadcast */
        u8(M_SEND); u8(0); u8(0x80); u64(0xfed00000ull); u8(0x80);
        u32(0x12345678); u16(0);
        u8(M_SERVICE); u8(0); u8(3);
        snprintf(name, sizeof name, "messages_%u", sel);
        emit(t, name);

        /* MSI-X: entry, enable, notify, mask, PBA, unmask. */
        u8(sel);
        m_enable(sel);
        u8(M_MSIX_NEW); u8(0); u16(16); u16(0x18);
        u8(M_ENTRY); u8(0); u16(0); u8(0); u32(0); u8(0); u32(0x51); u8(0);
        u8(M_ENTRY); u8(0); u16(3); u8(0); u32(0x1000); u8(0); u32(0x52);
        u8(1);
        u8(M_CONTROL); u8(0); u8(1);
        u8(M_NOTIFY); u8(0); u16(0);
        u8(M_NOTIFY); u8(0); u16(3);
        u8(M_PBA); u8(0); u16(0); u8(3);
        u8(M_TWRITE); u8(0); u16(3 * 16 + 12); u8(2); u64(0);
        u8(M_CONTROL); u8(0); u8(3);
        u8(M_NOTIFY); u8(0); u16(0);
        u8(M_CONTROL); u8(0); u8(1);
        u8(M_TREAD); u8(0); u16(8); u8(2);
        u8(M_TREAD); u8(0); u16(3); u8(0);
        u8(M_SERVICE); u8(0); u8(3);
        u8(M_MSIX_RESET); u8(0);
        u8(M_MSIX_FREE); u8(0);
        snprintf(name, sizeof name, "msix_%u", sel);
        emit(t, name);

        /* MSI capability: 64-bit, per-vector mask, 8 messages. */
        u8(sel);
        m_enable(sel);
        u8(M_MSI_NEW); u8(1); u8(3 | 8 | 16); u16(0x20);
        u8(M_MWRITE); u8(1); u8(4); u8(2); u32(0xfee00000u);
        u8(M_MWRITE); u8(1); u8(8); u8(2); u32(0);
        u8(M_MWRITE); u8(1); u8(12); u8(1); u32(0x60);
        u8(M_MWRITE); u8(1); u8(2); u8(1); u32(0x31);
        u8(M_MNOTIFY); u8(1); u8(5);
        u8(M_MWRITE); u8(1); u8(16); u8(2); u32(0x20);
        u8(M_MNOTIFY); u8(1); u8(5);
        u8(M_MREAD); u8(1); u8(20); u8(2);
        u8(M_MWRITE); u8(1); u8(16); u8(2); u32(0);
        u8(M_MREAD); u8(1); u8(0); u8(2);
        u8(M_SERVICE); u8(0); u8(3);
        u8(M_MSI_RESET); u8(1);
        snprintf(name, sizeof name, "msi_cap_%u", sel);
        emit(t, name);
    }
}

/* ---- fuzz_vtd / fuzz_amdvi (opcodes of fuzz_iommu.h) ---- */
enum { O_MMIO_READ, O_MMIO_WRITE, O_REG, O_FILL, O_W64, O_ENTRY,
       O_SET_TABLE, O_INVALIDATE, O_REMAP, O_DELIVER, O_SEND, O_IOAPIC,
       O_SERVICE, O_ENABLE, O_ADVANCE, O_FAIL_DMA, O_LAPIC, O_SYNC_PIR };

static void o_reg(unsigned off, unsigned sz, uint64_t v)
{
    u8(O_REG); u16((off / sz) << 1 | (sz == 8));
    if (sz == 8)
        u64(v);
    else
        u32((uint32_t)v);
}
static void o_entry(unsigned area, unsigned esz, unsigned idx,
                    const uint64_t *q)
{
    u8(O_ENTRY); u8(area | (esz == 32 ? 4 : 0)); u8(idx);
    for (unsigned i = 0; i < esz / 8; i++)
        u64(q[i]);
}
static void o_send(uint16_t sid, uint32_t addr_low, uint32_t data)
{
    u8(O_SEND); u16(sid); u8(0); u32(addr_low); u32(data);
}
static void o_remap(uint16_t sid, uint32_t addr_low, uint32_t data)
{
    u8(O_REMAP); u16(sid); u8(0); u32(addr_low); u32(data); u8(1);
}

static void gen_vtd(void)
{
    const char *t = "fuzz_vtd";
    char name[64];
    const uint64_t pid = FZ_GM_BASE + 0xa000;

    for (unsigned v = 0; v < 2; v++) {
        bool x2 = v == 0; /* configuration 3 has EIM */
        uint64_t q[2];
        /* Remapped and posted MSIs, a fault, the invalidation queue. */
        u8(v);
        u8(O_ENABLE); u8(x2);
        q[0] = 1 | 0x40ull << 16 | (x2 ? 0x100ull : 1ull << 8) << 32;
        q[1] = 0;
        o_entry(0, 16, 0, q);
        q[0] = 1 | 1ull << 15 | 0x55ull << 16 | (pid >> 6) << 38;
        q[1] = (pid >> 32) << 32;
        o_entry(0, 16, 1, q);
        q[0] = 1 | 1ull << 4 | 0x41ull << 16;  /* level */
        q[1] = 1ull << 18 | 0x0010;            /* SVT=01, SID 0x10 */
        o_entry(0, 16, 2, q);
        u8(O_W64); u16(0xa000 + 32); u64(0xf0ull << 16); /* NV */
        o_reg(0xb8, 8, FZ_GM_BASE | (x2 ? 0x800 : 0) | 7);
        o_reg(0x18, 4, 1u << 24);
        o_reg(0x18, 4, 1u << 25);
        o_send(0x10, 0x10, 0);                 /* handle 0 */
        o_send(0x10, 0x10 | 1 << 5, 0);        /* handle 1: posted */
        o_send(0x11, 0x10 | 2 << 5, 0xc000);   /* SID mismatch: fault */
        o_send(0x10, 0x10 | 0x7f << 5 | 4, 0); /* beyond the table */
        o_send(0x10, 0x00, 0x30);              /* compatibility: blocked */
        o_reg(0x18, 4, 1u << 25 | 1u << 23);   /* CFI */
        o_send(0x10, 0x00, 0x30);
        u8(O_MMIO_READ); u16(0x34); u8(2);
        u8(O_MMIO_READ); u16(0x400); u8(3);
        u8(O_SERVICE); u8(0); u8(3);
        u8(O_SYNC_PIR); u8(0);
        /* Invalidation queue: IEC global, wait with status write. */
        q[0] = 4; q[1] = 0;
        o_entry(2, 16, 0, q);
        q[0] = 0x25 | 0x1234ull << 32; q[1] = FZ_GM_BASE + 0xc000;
        o_entry(2, 16, 1, q);
        o_reg(0x90, 8, FZ_GM_BASE + 0x8000);
        o_reg(0x18, 4, 1u << 25 | 1u << 23 | 1u << 26);
        o_reg(0x88, 8, 0x20);
        u8(O_MMIO_READ); u16(0x80); u8(3);
        /* An IOAPIC entry in remappable format, handle 0. */
        u8(O_IOAPIC); u8(3); u32(0); u32(1u << 16); u8(1);
        u8(O_SERVICE); u8(0); u8(3);
        /* The engine. */
        o_remap(0x10, 0x10, 0);
        u8(O_INVALIDATE); u8(2); u16(0);
        u8(O_INVALIDATE); u8(0x80);
        u8(O_SET_TABLE); u8(1); u16(0x807);
        u8(O_FAIL_DMA); u8(1);
        o_send(0x10, 0x10, 0);
        u8(O_FAIL_DMA); u8(0);
        snprintf(name, sizeof name, "remap_post_queue_%u", v);
        emit(t, name);
    }
    /* Fault event interrupt and register shapes. */
    u8(0);
    o_reg(0x3c, 4, 0x49);
    o_reg(0x40, 4, 0xfee00000u);
    o_reg(0x38, 4, 0);
    o_reg(0xb8, 8, FZ_GM_BASE | 3);
    o_reg(0x18, 4, 1u << 24);
    o_reg(0x18, 4, 1u << 25);
    o_send(0x10, 0x10, 0);
    u8(O_MMIO_READ); u16(0x34); u8(2);
    u8(O_MMIO_WRITE); u16(0x34); u8(2); u64(0xff);
    u8(O_MMIO_WRITE); u16(0x18); u8(0); u64(0xff);
    u8(O_MMIO_READ); u16(0x19); u8(1);
    u8(O_DELIVER); u8(0); u8(0); u16(0); u32(0); u8(0x30); u8(0);
    emit(t, "fault_event");
}

static void gen_amdvi(void)
{
    const char *t = "fuzz_amdvi";
    char name[64];
    const uint64_t irt = FZ_GM_BASE + 0x4000;

    for (unsigned v = 0; v < 2; v++) {
        uint64_t q[4] = {0};
        u8(v);
        u8(O_ENABLE); u8(0);
        /* DTE of device 0x10: remap through a 256-entry 32-bit table,
           INIT/ExtINT/NMI pass-through. */
        q[0] = 1;
        q[2] = 1 | 8ull << 1 | irt | 7ull << 56 | 2ull << 60;
        o_entry(0, 32, 0x10, q);
        /* IRTE 0x42: remap enabled, dest 1, vector 0x55. */
        u8(O_W64); u16(0x4000 + 4 * 0x42);
        u64(1 | 1u << 8 | 0x55u << 16);
        o_reg(0x0, 8, FZ_GM_BASE | 1);
        o_reg(0x8, 8, (FZ_GM_BASE + 0x8000) | 8ull << 56);
        o_reg(0x10, 8, (FZ_GM_BASE + 0xa000) | 8ull << 56);
        o_reg(0x18, 8, 1 | 4 | 8 | 1u << 12);
        o_send(0x10, 0x1000, 0x42);
        o_send(0x10, 0, 0x300);        /* index beyond the table: event */
        o_send(0x11, 0, 0x42);         /* no DTE: event */
        o_send(0x10, 0, 0x400);        /* NMI pass-through */
        u8(O_SERVICE); u8(1); u8(3);
        /* Commands: INVALIDATE_INTERRUPT_TABLE 0x10, COMPLETION_WAIT. */
        q[0] = 0x10; q[1] = 5ull << 60;
        o_entry(2, 16, 0, q);
        q[0] = (FZ_GM_BASE + 0xc000) | 1 | 2; q[1] = 1ull << 60 | 0x77;
        /* (qword order as the unit reads it: opcode in bits 63:60 of
           the first qword's upper half) */
        o_entry(2, 16, 1, q);
        o_reg(0x2008, 8, 0x20);
        u8(O_MMIO_READ); u16(0x2020); u8(3);
        u8(O_MMIO_READ); u16(0x2018); u8(3);
        o_reg(0x2010, 8, 0x10);
        o_reg(0x2020, 8, ~0ull);
        /* Guest virtual APIC mode and 128-bit IRTEs. */
        o_reg(0x18, 8, 1 | 4 | 1u << 12 | 1ull << 17 | 1ull << 50);
        o_send(0x10, 0, 0x42);
        o_remap(0x10, 0x1000, 0x42);
        u8(O_INVALIDATE); u8(0); u16(0x10);
        u8(O_SET_TABLE); u8(1); u16(1);
        u8(O_IOAPIC); u8(4); u32(0x42); u32(0); u8(1);
        u8(O_MMIO_READ); u16(0x30); u8(3);
        u8(O_MMIO_WRITE); u16(0x2021); u8(0); u64(1);
        snprintf(name, sizeof name, "remap_cmd_evt_%u", v);
        emit(t, name);
    }
}

/* ---- fuzz_snapshot: real images, and drive scripts ---- */

static intc_machine *snap_machine(fz_host *h, unsigned sel, uint8_t set)
{
    intc_machine *m;
    intc_err e = INTC_OK;
    m = fz_new_machine(h, sel);
    if (set & 1)
        intc_msix_new(m, 8, 0x10, &e);
    if (set & 2)
        intc_msi_new(m, 2, true, true, 0x18, &e);
    if (set & 4)
        intc_msix_new(m, 64, 0x20, &e);
    if (set & 8)
        intc_msi_new(m, 0, false, false, 0x28, &e);
    if (e != INTC_OK) {
        fprintf(stderr, "device: %s\n", intc_err_name(e));
        exit(1);
    }
    return m;
}

static void put_image(intc_machine *m)
{
    size_t need = 0;
    intc_machine_save(m, NULL, 0, &need);
    if (B.n + need > sizeof B.b ||
        intc_machine_save(m, B.b + B.n, need, &need) != INTC_OK) {
        fprintf(stderr, "intc_machine_save failed\n");
        exit(1);
    }
    B.n += need;
}

static void gen_snapshot(void)
{
    const char *t = "fuzz_snapshot";
    char name[64];

    for (unsigned sel = 0; sel < FZ_N_CONFIGS; sel++) {
        fz_host *h;
        intc_machine *m;
        intc_lapic *l0;
        uint8_t set = (uint8_t)(sel & 3 ? sel & 0xf : 0);

        /* Power-up state. */
        h = fz_host_new(1);
        m = snap_machine(h, sel, set);
        u8(sel); u8(set);
        put_image(m);
        snprintf(name, sizeof name, "image_reset_%u", sel);
        emit(t, name);

        /* A busy state: timer running, vectors in IRR/ISR, TPR, an
           IOAPIC line, posted vectors, x2APIC on CPU 0 where there is. */
        l0 = intc_machine_lapic(m, 0);
        for (uint32_t c = 0; c < h->n_cpus; c++) {
            intc_lapic *l = intc_machine_lapic(m, c);
            intc_lapic_mmio_write(l, INTC_LAPIC_SVR, 4, 0x1ff);
            intc_lapic_mmio_write(l, INTC_LAPIC_LVT_TIMER, 4, 0x20040);
            intc_lapic_mmio_write(l, INTC_LAPIC_TIMER_ICR, 4, 5000 + c);
        }
        intc_msi_send(m, INTC_MSI_ADDR_BASE, 0x61, 0, NULL);
        intc_msi_send(m, INTC_MSI_ADDR_BASE, 0x71, 0, NULL);
        intc_lapic_ack(l0);
        intc_lapic_set_tpr(l0, 0x20);
        intc_lapic_post(l0, 0x91, true);
        if (h->n_ioapics) {
            intc_ioapic *io = intc_machine_ioapic(m, 0);
            intc_ioapic_mmio_write(io, 0, 4, 0x10 + 2 * 16);
            intc_ioapic_mmio_write(io, 0x10, 4, 0xa035);
            intc_machine_set_gsi(m, 16, true);
        }
        h->now = 12345;
        if (h->n_cpus > 1)
            intc_lapic_msr_write(intc_machine_lapic(m, 1),
                                 INTC_MSR_APIC_BASE,
                                 INTC_APIC_BASE_DEFAULT |
                                     INTC_APIC_BASE_EN |
                                     INTC_APIC_BASE_EXTD);
        fz_check(m, "gen_corpus");
        u8(sel); u8(set);
        put_image(m);
        snprintf(name, sizeof name, "image_busy_%u", sel);
        emit(t, name);
        /* The same with the checksum fixed by the target (mode 1; the
           file name keeps its first format's word). */
        u8(sel | 1 << 3); u8(set);
        put_image(m);
        snprintf(name, sizeof name, "image_busy_crcfix_%u", sel);
        emit(t, name);
        fz_host_free(h);

        /* Mode 2/3: drive a machine, then mutate its image. */
        u8(sel | (2 + (sel & 1)) << 3); u8(set);
        u8(6);
        u8(0); u8(0); u8(0xf); u32(0x1ff);        /* SVR */
        u8(0); u8(0); u8(0x32); u32(0x20050);     /* LVT timer */
        u8(0); u8(0); u8(0x38); u32(100);         /* initial count */
        u8(3); u8(0); u16(250);                   /* advance */
        u8(7); u8(0); u32(0); u16(0x66); u16(0);  /* MSI */
        u8(8); u8(1); u8(0x93);                   /* post */
        u16(40); u8(0x01);                        /* one mutation */
        snprintf(name, sizeof name, "drive_mutate_%u", sel);
        emit(t, name);
    }
}

/* ---- fuzz_replay: recordings (record.h) of a short run on each
   configuration, as mode byte + recording; mode 1 has the target fix the
   CRCs, so mutations of these seeds get past the checksums ---- */

static int rec_sink(void *ctx, const void *p, size_t n)
{
    (void)ctx;
    if (n > sizeof B.b - B.n)
        return -1;
    memcpy(B.b + B.n, p, n);
    B.n += n;
    return 0;
}

static void gen_replay(void)
{
    const char *t = "fuzz_replay";
    char name[64];

    for (unsigned sel = 0; sel < FZ_N_CONFIGS; sel++) {
        for (unsigned mode = 0; mode < 2; mode++) {
            fz_host *h = fz_host_new(1);
            intc_machine *m = snap_machine(h, sel, (uint8_t)(sel & 0xf));
            intc_lapic *l0 = intc_machine_lapic(m, 0);
            intc_iommu *u = intc_machine_iommu(m);
            uint64_t v;

            u8(mode);
            if (intc_machine_record(m, rec_sink, NULL) != INTC_OK) {
                fprintf(stderr, "intc_machine_record failed\n");
                exit(1);
            }
            /* One-shot timers that fire, an MSI acknowledged, TPR, a
               posted vector folded, an IOAPIC line, the IOMMU's
               registers. */
            for (uint32_t c = 0; c < h->n_cpus; c++) {
                intc_lapic *l = intc_machine_lapic(m, c);
                intc_lapic_mmio_write(l, INTC_LAPIC_SVR, 4, 0x1ff);
                intc_lapic_mmio_write(l, INTC_LAPIC_LVT_TIMER, 4, 0x40);
                intc_lapic_mmio_write(l, INTC_LAPIC_TIMER_ICR, 4, 50 + c);
            }
            intc_msi_send(m, INTC_MSI_ADDR_BASE, 0x61, 0x10, NULL);
            intc_lapic_ack(l0);
            intc_lapic_mmio_write(l0, INTC_LAPIC_EOI, 4, 0);
            intc_lapic_set_tpr(l0, 0x20);
            intc_lapic_post(l0, 0x91, true);
            intc_lapic_sync_pir(l0, NULL);
            if (h->n_ioapics)
                intc_machine_set_gsi(m, 16, true);
            if (u)
                intc_iommu_mmio_read(u, 0, 8, &v);
            kit_advance_to(h, h->now + 100000);
            intc_lapic_mmio_read(l0, INTC_LAPIC_TIMER_CCR, 4, &v);
            if (intc_machine_record(m, NULL, NULL) != INTC_OK) {
                fprintf(stderr, "recording failed\n");
                exit(1);
            }
            fz_check(m, "gen_corpus");
            snprintf(name, sizeof name, "%s_%u", mode ? "run_crcfix" : "run",
                     sel);
            emit(t, name);
            fz_host_free(h);
        }
    }
}

/* ---- fuzz_scenario: a few small files (the project's scenario files
   are replayed from tests/sim and examples by the ctest) ---- */

static void text(const char *s)
{
    size_t n = strlen(s);
    memcpy(B.b + B.n, s, n);
    B.n += n;
}

static void gen_scenario(void)
{
    const char *t = "fuzz_scenario";
    text("machine:\n  cpus: 2\nsteps:\n"
         "  - {cpu: 0, write: {reg: svr, value: 0x1ff}}\n"
         "  - {cpu: 1, write: {reg: svr, value: 0x1ff}}\n"
         "  - {cpu: 0, ipi: {dest: 1, vector: 0x40}}\n"
         "  - expect: {cpu: 1, irr: [0x40]}\n"
         "  - {cpu: 1, ack: 0x40}\n"
         "  - {cpu: 1, eoi: true}\n");
    emit(t, "ipi.yaml");
    /* A 1 ns periodic timer for a long time: the fire limits. */
    text("machine:\n  cpus: 1\nsteps:\n"
         "  - {cpu: 0, write: {reg: svr, value: 0x1ff}}\n"
         "  - {cpu: 0, write: {reg: timer_dcr, value: 0xb}}\n"
         "  - {cpu: 0, write: {reg: lvt_timer, value: 0x20030}}\n"
         "  - {cpu: 0, write: {reg: timer_icr, value: 1}}\n"
         "  - {advance: 1ms}\n"
         "  - expect: {cpu: 0, irr: [0x30]}\n");
    emit(t, "tiny_period.yaml");
    text("a: &a [*a]\n");
    emit(t, "alias_cycle.yaml");
}

/* ---- fuzz_uc_firmware: device scripts (uc_firmware.h), a few per
   driver: single and burst events, a withdrawn event, data values ---- */

static void ucf_delta(unsigned d)
{
    while (d >= 0x80) {
        u8((d & 0x7f) | 0x80);
        d >>= 7;
    }
    u8(d);
}

static void ucf_raise(unsigned d, unsigned k) { ucf_delta(d); u8((k - 1) << 2); }
static void ucf_retract(unsigned d) { ucf_delta(d); u8(1); }
static void ucf_data(unsigned d, unsigned v) { ucf_delta(d); u8(2); u8(v); }
static void ucf_raise_data(unsigned d, unsigned v)
{
    ucf_delta(d);
    u8(3);
    u8(v);
}

static void gen_uc_firmware(void)
{
    static const char *const names[4] = {"eoi_level", "lost_wakeup",
                                         "shared_counter", "missing_eoi"};
    const char *t = "fuzz_uc_firmware";
    char name[64];
    for (unsigned d = 0; d < 4; d++) {
        u8(d); /* one event after boot, then quiet */
        ucf_raise(2000, 1);
        snprintf(name, sizeof name, "%s_one", names[d]);
        emit(t, name);
        u8(d); /* events while busy and while halted, with data */
        ucf_data(1500, 0x11);
        ucf_raise(500, 2);
        ucf_raise(40, 1);
        ucf_raise_data(3000, 0x22);
        ucf_raise(20000, 4);
        ucf_raise(7, 1);
        snprintf(name, sizeof name, "%s_burst", names[d]);
        emit(t, name);
        u8(d); /* an event withdrawn before and after delivery */
        ucf_raise(1000, 1);
        ucf_retract(0);
        ucf_raise(3000, 1);
        ucf_retract(5);
        ucf_raise_data(4000, 0x7f);
        snprintf(name, sizeof name, "%s_retract", names[d]);
        emit(t, name);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus DIR\n");
        return 2;
    }
    g_dir = argv[1];
    mkdirs(g_dir);
    gen_lapic();
    gen_ioapic();
    gen_msi();
    gen_vtd();
    gen_amdvi();
    gen_snapshot();
    gen_replay();
    gen_scenario();
    gen_uc_firmware();
    return 0;
}
