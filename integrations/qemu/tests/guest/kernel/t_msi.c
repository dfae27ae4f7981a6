/*
 * Message-signalled interrupts from real QEMU device models, with the
 * address and data formats of SDM 11.11.1 / 11.11.2:
 *  - MSI from the edu device (hw/misc/edu.c: a write to BAR0 + 0x60
 *    raises its interrupt, msi_notify() when MSI is enabled; + 0x64
 *    acknowledges); PCI Local Bus 3.0 6.8.1 (MSI capability);
 *  - MSI-X from e1000e (hw/net/e1000e_core.c: a write to ICS sets
 *    interrupt causes; with MSI-X enabled the RXQ0 cause goes to the
 *    table entry IVAR names, e1000e_msix_notify_one -> msix_notify);
 *    PCI Local Bus 3.0 6.8.2 (table, vector mask, function mask, PBA).
 * The BARs are the ones SeaBIOS assigned; the kernel enables memory
 * decoding and bus mastering (an MSI is a memory write by the device).
 */
#include "tests.h"

#define MSI_ADDR(dest) (0xfee00000u | (uint32_t)(dest) << 12) /* RH = DM = 0 */

static int find_dev(uint16_t ven, uint16_t dev, const char *name, unsigned *bdf)
{
    int b = pci_find(ven, dev);
    CHECK(b >= 0, "no %s (%04x:%04x) on bus 0: the runner adds it", name, ven, dev);
    *bdf = (unsigned)b;
    pci_write16(*bdf, 0x04, (uint16_t)(pci_read16(*bdf, 0x04) | 0x6)); /* MEM, bus master */
    return RES_PASS;
}

/* ---- edu: MSI --------------------------------------------------------------- */

int edu_open(struct edu *e)
{
    TRY(find_dev(0x1234, 0x11e8, "edu", &e->bdf));
    e->bar = pci_bar(e->bdf, 0);
    CHECK(e->bar && e->bar < 0x100000000ull, "edu BAR0 %lx not below 4 GiB", e->bar);
    e->cap = pci_find_cap(e->bdf, 0x05);
    CHECK(e->cap, "edu has no MSI capability");
    /* edu's identification register: 0x010000ed (version 1.0). */
    CHECK((mmio_read32(e->bar) & 0xff) == 0xed, "edu identification reads %x",
          mmio_read32(e->bar));
    e->ctl = pci_read16(e->bdf, e->cap + 2);
    return RES_PASS;
}

void edu_msi_set(const struct edu *e, uint32_t addr, uint16_t data)
{
    bool a64 = e->ctl & 0x80; /* 64-bit address capable */
    pci_write32(e->bdf, e->cap + 4, addr);
    if (a64)
        pci_write32(e->bdf, e->cap + 8, 0);
    pci_write16(e->bdf, e->cap + (a64 ? 0xc : 0x8), data);
    pci_write16(e->bdf, e->cap + 2, (uint16_t)((e->ctl & ~0x70u) | 1)); /* enable, 1 vector */
}

void edu_msi_route(const struct edu *e, uint32_t dest, unsigned v)
{
    /* Fixed, edge (11.11.2). */
    edu_msi_set(e, MSI_ADDR(dest), (uint16_t)v);
}

void edu_msi_off(const struct edu *e)
{
    pci_write16(e->bdf, e->cap + 2, (uint16_t)(e->ctl & ~1u));
}

static int t_msi_edu(void)
{
    struct edu e;
    TRY(edu_open(&e));

    char what[64];
    for (unsigned i = ncpus; i-- > 0;) {
        unsigned v = 0xb0 + i;
        edu_msi_route(&e, cpus[i].apic_id, v);
        reset_counts();
        mmio_write32(e.bar + EDU_RAISE, 1);
        uint32_t want[MAX_CPUS];
        want_mask(want, 1u << i);
        snprintk(what, sizeof what, "edu MSI to APIC ID %u", cpus[i].apic_id);
        int r = expect_counts(v, want, what);
        mmio_write32(e.bar + EDU_ACK, 1);
        TRY(r);
    }
    edu_msi_off(&e);
    return RES_PASS;
}

/* ---- e1000e: MSI-X -------------------------------------------------------- */

#define E1000_ICR 0xc0
#define E1000_ICS 0xc8
#define E1000_IMS 0xd0
#define E1000_IMC 0xd8
#define E1000_IVAR 0xe4
#define ICR_RXQ0 (1u << 20)

struct msix {
    unsigned bdf, cap;
    uint64_t regs, table, pba;
    unsigned n;
};

static void fire(const struct msix *m)
{
    mmio_write32(m->regs + E1000_ICR, 0xffffffffu); /* clear causes */
    mmio_write32(m->regs + E1000_ICS, ICR_RXQ0);
}

static bool pending(const struct msix *m)
{
    return mmio_read32(m->pba) & 1;
}

static int t_msix_e1000e(void)
{
    struct msix m;
    TRY(find_dev(0x8086, 0x10d3, "e1000e", &m.bdf));
    m.cap = pci_find_cap(m.bdf, 0x11);
    CHECK(m.cap, "e1000e has no MSI-X capability");
    uint16_t ctl = pci_read16(m.bdf, m.cap + 2);
    m.n = (ctl & 0x7ffu) + 1;
    uint32_t t = pci_read32(m.bdf, m.cap + 4), p = pci_read32(m.bdf, m.cap + 8);
    m.regs = pci_bar(m.bdf, 0);
    m.table = pci_bar(m.bdf, t & 7) + (t & ~7u);
    m.pba = pci_bar(m.bdf, p & 7) + (p & ~7u);
    CHECK(m.regs && m.table > 0xfff && m.pba > 0xfff && m.table < 0x100000000ull,
          "e1000e BARs: regs %lx table %lx pba %lx", m.regs, m.table, m.pba);

    /* Entry 0 -> APIC ID of the last CPU, fixed, edge, vector 0xc0;
       the other entries masked. */
    unsigned target = ncpus - 1;
    const unsigned v = 0xc0;
    for (unsigned e = 0; e < m.n; e++)
        mmio_write32(m.table + 16 * e + 12, 1);
    mmio_write32(m.table + 0, MSI_ADDR(cpus[target].apic_id));
    mmio_write32(m.table + 4, 0);
    mmio_write32(m.table + 8, v);
    mmio_write32(m.table + 12, 0);
    pci_write16(m.bdf, m.cap + 2, (uint16_t)((ctl & ~0x4000u) | 0x8000u)); /* enable, unmask */
    /* The device: RXQ0 cause -> MSI-X entry 0 (IVAR valid bit 3), cause
       enabled in IMS. */
    mmio_write32(m.regs + E1000_IVAR, 0x8);
    mmio_write32(m.regs + E1000_IMS, ICR_RXQ0);

    uint32_t want[MAX_CPUS];
    want_mask(want, 1u << target);
    reset_counts();
    fire(&m);
    TRY(expect_counts(v, want, "e1000e MSI-X entry 0"));
    CHECK(!pending(&m), "PBA bit 0 set after a delivered message");

    /* 6.8.2.9: with the entry's mask bit set the function may not send
       it and sets the pending bit instead; clearing the mask sends the
       pending message (6.8.2.10). */
    reset_counts();
    mmio_write32(m.table + 12, 1);
    fire(&m);
    delay_ms(SETTLE_MS);
    EXPECT(cpus[target].cnt[v] == 0, "message sent through a masked MSI-X entry");
    EXPECT(pending(&m), "PBA bit 0 clear for a message held by the entry mask");
    mmio_write32(m.table + 12, 0);
    want_mask(want, 1u << target);
    expect_counts_soft(v, want, "pending MSI-X message after unmasking the entry");
    EXPECT(!pending(&m), "PBA bit 0 still set after unmasking");

    /* 6.8.2.3: the function mask holds every entry the same way. */
    reset_counts();
    pci_write16(m.bdf, m.cap + 2, (uint16_t)(ctl | 0xc000u));
    fire(&m);
    delay_ms(SETTLE_MS);
    EXPECT(cpus[target].cnt[v] == 0, "message sent with the MSI-X function mask set");
    EXPECT(pending(&m), "PBA bit 0 clear for a message held by the function mask");
    pci_write16(m.bdf, m.cap + 2, (uint16_t)((ctl & ~0x4000u) | 0x8000u));
    expect_counts_soft(v, want, "pending MSI-X message after clearing the function mask");

    /* Retarget entry 0 to the BSP: the new address is used. */
    mmio_write32(m.table + 12, 1);
    mmio_write32(m.table + 0, MSI_ADDR(cpus[0].apic_id));
    mmio_write32(m.table + 12, 0);
    reset_counts();
    want_mask(want, 1u);
    fire(&m);
    expect_counts_soft(v, want, "e1000e MSI-X entry 0 retargeted to the BSP");
    mmio_write32(m.regs + E1000_IMC, 0xffffffffu);
    pci_write16(m.bdf, m.cap + 2, (uint16_t)(ctl & ~0x8000u));
    return soft_result();
}

const struct test msi_tests[] = {
    {"msi_edu", t_msi_edu},
    {"msix_e1000e", t_msix_e1000e},
    {0, 0},
};
