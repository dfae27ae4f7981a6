/*
 * VT-d interrupt remapping seen from the guest (issue 15, point 3): the
 * kernel programs an interrupt remapping table, makes the edu device and
 * the I/O APIC send legitimate and forged interrupts, and reads the fault
 * records back.
 *
 * "VT-d x.y" is the Intel Virtualization Technology for Directed I/O
 * Architecture Specification (rev. 4.x, order no. D51397): 5.1.2 the
 * request formats (5.1.2.1 compatibility, 5.1.2.2 remappable), 5.1.3 the
 * interrupt remapping table, 5.1.4 the hardware's operation and 5.1.4.1
 * its fault conditions (compatibility format, CFI, EIME), 5.1.5 programming
 * the sources (5.1.5.1 I/O APIC, 5.1.5.2 MSI), 5.1.6 the unit's own
 * interrupts, 6.5.2 queued invalidation (6.5.2.7 IEC, 6.5.2.8 wait),
 * chapter 7 fault reporting (7.1.3 the fault reasons, 7.2.1 primary fault
 * logging, 7.3 the fault event), 8.3 the ACPI DMAR unit description, 9.10
 * the IRTE, chapter 11 the registers (11.4.2 CAP, 11.4.3 ECAP, 11.4.4
 * GCMD, 11.4.5 GSTS, 11.4.9 FSTS, 11.4.10-11.4.13 the fault event
 * registers, 11.4.14 the fault recording registers).
 *
 * The unit: the one the ACPI DMAR table describes (QEMU's intel-iommu at
 * 0xfed90000, Q35_HOST_BRIDGE_IOMMU_ADDR).  run.sh adds
 * -device intel-iommu,intremap=on,x-buggy-eim=on for the ir_* tests and
 * puts iommu=vtd on the command line, so a missing unit is a FAIL (a SKIP
 * without it).  What every test sets up (ir_setup):
 *  - DMA translation stays off (GCMD.TE = 0): the devices' DMA passes
 *    through, only interrupt requests are remapped;
 *  - a 16-entry table (IRTA.S = 3) in xAPIC mode (IRTA.EIME = 0: the
 *    destination is IRTE bits 47:40, 9.10); GCMD.CFI stays clear, so
 *    compatibility-format requests are blocked (5.1.4.1);
 *  - queued invalidation: after SIRTP and after every IRTE change the
 *    interrupt entry cache is invalidated with an IEC descriptor followed
 *    by a wait descriptor whose status write tells that it is done
 *    (11.4.4: software must follow SIRTP with a global IEC invalidation);
 *  - the fault event (FEDATA/FEADDR, 11.4.11-11.4.12) to the BSP at
 *    VEC_FAULT, unmasked (FECTL.IM = 0).
 * Every register is accessed with 32-bit reads and writes.
 *
 * A fault is checked where the architecture puts it (7.2.1, 11.4.9,
 * 11.4.14): FSTS.PPF set, FSTS.FRI naming a fault recording register
 * with F set, its reason FR, its SID (the requester of the blocked
 * message) and, for a fault with an interrupt index, FI bits 63:48 = the
 * index with bits 47:12 clear; the fault event arrives once; writing 1
 * to F clears the record and PPF.  Each record read is printed in the
 * form of Linux's DMAR fault message.
 */
#include "tests.h"

/* ---- the unit's registers (VT-d 11.4) --------------------------------- */

#define VTD_VER 0x000
#define VTD_CAP 0x008
#define VTD_ECAP 0x010
#define VTD_GCMD 0x018
#define VTD_GSTS 0x01c
#define VTD_FSTS 0x034
#define VTD_FECTL 0x038
#define VTD_FEDATA 0x03c
#define VTD_FEADDR 0x040
#define VTD_FEUADDR 0x044
#define VTD_IQT 0x088
#define VTD_IQA 0x090
#define VTD_IRTA 0x0b8

#define ECAP_QI (1ull << 1)
#define ECAP_IR (1ull << 3)

/* GCMD and GSTS (11.4.4, 11.4.5): a command and its status share a bit. */
#define G_TE (1u << 31)
#define G_QIE (1u << 26)
#define G_IRE (1u << 25)
#define G_SIRTP (1u << 24)
#define G_CFI (1u << 23)
/* 11.4.4's recipe: GSTS with the one-shot status bits (RTPS, FLS, WBFS,
   IRTPS) cleared is the command state to write back with one bit changed. */
#define GSTS_PERSISTENT 0x96ffffffu

/* FSTS (11.4.9): PPF is read-only (the OR of the F bits); the others are
   write-1-to-clear (PFO, AFO, APF, IQE, ICE, ITE). */
#define FSTS_PFO (1u << 0)
#define FSTS_PPF (1u << 1)
#define FSTS_IQE (1u << 4)
#define FSTS_RW1C 0x7du
#define FSTS_FRI(f) ((f) >> 8 & 0xffu)
/* FECTL (11.4.10). */
#define FECTL_IM (1u << 31)
#define FECTL_IP (1u << 30)
/* Fault recording register (11.4.14): F is bit 127, i.e. bit 31 of the
   register's fourth dword. */
#define FRCD_F_DWORD3 (1u << 31)

/* IRTE, remapped format (9.10). */
#define IRTE_P 1ull
#define IRTE_VECTOR(v) ((uint64_t)(v) << 16)
#define IRTE_DST_XAPIC(id) ((uint64_t)((id) & 0xff) << 40) /* EIME = 0 */
#define IRTE_SID(sid, sq, svt)                                              \
    ((uint64_t)(sid) | (uint64_t)(sq) << 16 | (uint64_t)(svt) << 18)
#define SVT_NONE 0
#define SVT_SID 1 /* the requester ID, masked by SQ */
#define SVT_BUS 2 /* the bus number within [SID[15:8], SID[7:0]] */
#define SQ_ALL 0  /* compare all 16 bits */
#define SQ_NO_FN 3 /* ignore the function number (bits 2:0) */

/* Invalidation descriptors, 128-bit (6.5.2.7, 6.5.2.8). */
#define QI_IEC 0x4ull
#define QI_IEC_INDEX (1ull << 4) /* G: index-selective (IIDX, IM) */
#define QI_WAIT 0x5ull
#define QI_WAIT_SW (1ull << 5) /* status write */

/* Fault reasons (7.1.3; conditions 5.1.4.1). */
#define FR_INDEX 0x21
#define FR_NOT_PRESENT 0x22
#define FR_COMPAT 0x25
#define FR_SID 0x26

#define VEC_FAULT 0xd8 /* the fault event (FEDATA) */

#define IRT_S 3 /* IRTA.S: 2^(S+1) = 16 entries */
#define IRT_N (2u << IRT_S)
#define IQ_N 256 /* IQA.QS = 0: one 4 KiB page of 128-bit descriptors */

static uint64_t irt[2 * IRT_N] __attribute__((aligned(4096)));
static uint64_t iq[2 * IQ_N] __attribute__((aligned(4096)));
static volatile uint32_t iq_status;

static struct {
    uintptr_t base;
    uint64_t cap, ecap;
    unsigned fro, nfr; /* fault recording registers: offset, count */
    int ioapic_sid;    /* from the DMAR unit's device scope; -1 if none */
    unsigned iq_tail;
    uint32_t iq_token;
    struct edu edu;
} u;

static uint32_t rd(unsigned off) { return mmio_read32(u.base + off); }
static void wr(unsigned off, uint32_t v) { mmio_write32(u.base + off, v); }
static uint64_t rd64(unsigned off) { return rd(off) | (uint64_t)rd(off + 4) << 32; }

static void wr64(unsigned off, uint64_t v)
{
    wr(off, (uint32_t)v);
    wr(off + 4, (uint32_t)(v >> 32));
}

/* ---- the unit from ACPI (VT-d 8.1-8.3) ---------------------------------- */

static uint32_t le(const uint8_t *p, unsigned n)
{
    uint32_t v = 0;
    while (n--)
        v = v << 8 | p[n];
    return v;
}

static bool sum_ok(const uint8_t *p, uint32_t n)
{
    uint8_t s = 0;
    while (n--)
        s = (uint8_t)(s + *p++);
    return s == 0;
}

static const uint8_t *rsdp_scan(uintptr_t from, uintptr_t to)
{
    for (uintptr_t a = from; a + 20 <= to; a += 16) {
        const uint8_t *p = (const uint8_t *)a;
        if (p[0] == 'R' && p[1] == 'S' && p[2] == 'D' && p[3] == ' ' && p[4] == 'P' &&
            p[5] == 'T' && p[6] == 'R' && p[7] == ' ' && sum_ok(p, 20))
            return p;
    }
    return 0;
}

/* The ACPI table with signature sig (RSDP in the EBDA's first KiB or in
   0xe0000-0xfffff; XSDT if the RSDP has one, else RSDT), checksum checked. */
static const uint8_t *acpi_table(const char *sig)
{
    uintptr_t bda = 0x40e; /* the EBDA's segment, in the BIOS data area */
    __asm__("" : "+r"(bda)); /* a real address, not a null-page constant */
    uintptr_t ebda = (uintptr_t)*(volatile uint16_t *)bda << 4;
    const uint8_t *rsdp = ebda ? rsdp_scan(ebda, ebda + 1024) : 0;
    if (!rsdp)
        rsdp = rsdp_scan(0xe0000, 0x100000);
    if (!rsdp)
        return 0;
    bool x = rsdp[15] >= 2 && (le(rsdp + 24, 4) || le(rsdp + 28, 4));
    const uint8_t *sdt = (const uint8_t *)(uintptr_t)(x ? le(rsdp + 24, 4) : le(rsdp + 16, 4));
    if (!sdt || (x && le(rsdp + 28, 4)))
        return 0; /* an XSDT above 4 GiB: not mapped */
    unsigned esz = x ? 8 : 4;
    uint32_t len = le(sdt + 4, 4);
    for (uint32_t off = 36; off + esz <= len; off += esz) {
        if (esz == 8 && le(sdt + off + 4, 4))
            continue;
        const uint8_t *t = (const uint8_t *)(uintptr_t)le(sdt + off, 4);
        if (t && t[0] == (uint8_t)sig[0] && t[1] == (uint8_t)sig[1] && t[2] == (uint8_t)sig[2] &&
            t[3] == (uint8_t)sig[3] && sum_ok(t, le(t + 4, 4)))
            return t;
    }
    return 0;
}

/* The first DRHD of the DMAR table (8.3): its register base and the
   source ID of the I/O APIC its device scope lists (type 3, 8.3.1), the
   one whose enumeration ID is our I/O APIC's ID. */
static bool dmar_find(void)
{
    const uint8_t *t = acpi_table("DMAR");
    if (!t)
        return false;
    uint32_t len = le(t + 4, 4);
    unsigned ioapic_id = ioapic_read(0) >> 24 & 0xf;
    u.ioapic_sid = -1;
    for (uint32_t off = 48; off + 4 <= len;) {
        const uint8_t *s = t + off;
        uint32_t slen = le(s + 2, 2);
        if (slen < 4 || off + slen > len)
            break;
        if (le(s, 2) == 0 && slen >= 16) { /* DRHD */
            if (le(s + 12, 4))
                return false; /* register base above 4 GiB: not mapped */
            u.base = le(s + 8, 4);
            for (uint32_t d = 16; d + 6 <= slen;) {
                const uint8_t *ds = s + d;
                if (ds[1] < 6 || d + ds[1] > slen)
                    break;
                /* Type 3 (I/O APIC): start bus, then one (device,
                   function) pair for a device on that bus. */
                if (ds[0] == 3 && ds[4] == ioapic_id && ds[1] == 8)
                    u.ioapic_sid = ds[5] << 8 | (ds[6] & 0x1f) << 3 | (ds[7] & 7);
                d += ds[1];
            }
            return true;
        }
        off += slen;
    }
    return false;
}

/* ---- commands, invalidation ------------------------------------------------ */

/* 11.4.4: one command at a time, the others kept as GSTS reports them;
   then wait until GSTS shows it done. */
static int gcmd(uint32_t bit, bool set, const char *name)
{
    uint32_t cmd = rd(VTD_GSTS) & GSTS_PERSISTENT;
    wr(VTD_GCMD, set ? cmd | bit : cmd & ~bit);
    uint64_t end = rdtsc() + ms_to_tsc(WAIT_MS);
    while (!(rd(VTD_GSTS) & bit) != !set) {
        if (rdtsc() > end)
            return fail("GSTS.%s not %s %u ms after the command (GSTS %x)", name,
                        set ? "set" : "clear", WAIT_MS, rd(VTD_GSTS));
        pause();
    }
    return RES_PASS;
}

/* Queue descriptor lo/hi and an invalidation wait descriptor with a
   status write (6.5.2.8), move the tail (11.4: IQT bits 18:4), and wait
   for the status: then the invalidation is complete. */
static int qi_submit(uint64_t lo, uint64_t hi, const char *what)
{
    uint32_t token = ++u.iq_token;
    iq[2 * u.iq_tail] = lo;
    iq[2 * u.iq_tail + 1] = hi;
    u.iq_tail = (u.iq_tail + 1) % IQ_N;
    iq[2 * u.iq_tail] = QI_WAIT | QI_WAIT_SW | (uint64_t)token << 32;
    iq[2 * u.iq_tail + 1] = (uintptr_t)&iq_status;
    u.iq_tail = (u.iq_tail + 1) % IQ_N;
    mfence();
    wr(VTD_IQT, u.iq_tail << 4);
    uint64_t end = rdtsc() + ms_to_tsc(WAIT_MS);
    while (iq_status != token) {
        CHECK(!(rd(VTD_FSTS) & FSTS_IQE), "%s: invalidation queue error (FSTS %x)", what,
              rd(VTD_FSTS));
        CHECK(rdtsc() < end, "%s: the wait descriptor's status write never came", what);
        pause();
    }
    return RES_PASS;
}

/* Write IRTE i and invalidate its cache entry (6.5.2.7, index-selective):
   the unit may use the old entry until then.  No message is in flight
   while an entry changes (the tests send only after the invalidation);
   the high half goes first so that a not-present entry becomes present
   with everything else in place. */
static int irte_set(unsigned i, uint64_t lo, uint64_t hi)
{
    irt[2 * i + 1] = hi;
    barrier();
    irt[2 * i] = lo;
    mfence();
    return qi_submit(QI_IEC | QI_IEC_INDEX | (uint64_t)i << 32, 0, "IEC invalidation");
}

/* A remapped-format IRTE (9.10): fixed, physical, edge, to the CPU with
   index cpu. */
static int irte_remap(unsigned i, unsigned cpu, unsigned v, uint64_t sid_fields)
{
    return irte_set(i, IRTE_P | IRTE_VECTOR(v) | IRTE_DST_XAPIC(cpus[cpu].apic_id), sid_fields);
}

/* ---- set-up ------------------------------------------------------------------ */

static int ir_setup(void)
{
    char val[24];
    bool asked = cmdline_get(cmdline, "iommu", val, sizeof val); /* run.sh: iommu=vtd */
    TRY(need_feature(dmar_find(), asked, "VT-d unit (ACPI DMAR table)"));
    TRY(edu_open(&u.edu));
    uint32_t ver = rd(VTD_VER);
    u.cap = rd64(VTD_CAP);
    u.ecap = rd64(VTD_ECAP);
    printk("vtd: unit at %lx, version %x, CAP %lx, ECAP %lx, I/O APIC SID %x, "
           "edu %02x:%02x.%u\n",
           (uint64_t)u.base, ver, u.cap, u.ecap, (unsigned)u.ioapic_sid, u.edu.bdf >> 8,
           u.edu.bdf >> 3 & 0x1f, u.edu.bdf & 7);
    CHECK(ver != 0xffffffffu && ver, "no VT-d registers at %lx (VER reads %x)", (uint64_t)u.base,
          ver);
    CHECK(u.ecap & ECAP_IR, "ECAP.IR clear: the unit offers no interrupt remapping (intremap=on)");
    CHECK(u.ecap & ECAP_QI, "ECAP.QI clear: no queued invalidation, hence no IEC invalidation");
    u.fro = (unsigned)(u.cap >> 24 & 0x3ff) * 16;
    u.nfr = (unsigned)(u.cap >> 40 & 0xff) + 1;
    CHECK(u.fro >= 0x100 && u.fro + 16 * u.nfr <= 0x1000, "CAP.FRO %x / NFR %u outside the page",
          u.fro, u.nfr);

    /* Nothing left over: records cleared (write 1 to F), FSTS's
       write-1-to-clear bits too.  The fault event to the BSP, unmasked,
       in compatibility format: the unit's own interrupts are not
       remapped (5.1.6). */
    for (unsigned i = 0; i < u.nfr; i++)
        wr(u.fro + 16 * i + 12, FRCD_F_DWORD3);
    wr(VTD_FSTS, FSTS_RW1C);
    wr(VTD_FEDATA, VEC_FAULT);
    wr(VTD_FEADDR, 0xfee00000u | cpus[0].apic_id << 12);
    wr(VTD_FEUADDR, 0);
    wr(VTD_FECTL, 0);

    /* Queued invalidation: IQA (QS 0, 128-bit descriptors), tail 0, QIE. */
    wr64(VTD_IQA, (uintptr_t)iq);
    wr(VTD_IQT, 0);
    u.iq_tail = 0;
    TRY(gcmd(G_QIE, true, "QIES"));

    /* The table, empty; SIRTP; the global IEC invalidation 11.4.4 asks for. */
    for (unsigned i = 0; i < 2 * IRT_N; i++)
        irt[i] = 0;
    wr64(VTD_IRTA, (uintptr_t)irt | IRT_S);
    TRY(gcmd(G_SIRTP, true, "IRTPS"));
    TRY(qi_submit(QI_IEC, 0, "global IEC invalidation after SIRTP"));
    if (rd(VTD_GSTS) & G_CFI)
        TRY(gcmd(G_CFI, false, "CFIS"));
    TRY(gcmd(G_IRE, true, "IRES"));
    uint32_t gsts = rd(VTD_GSTS);
    CHECK(!(gsts & G_TE), "GSTS.TES set: DMA translation is on (GSTS %x)", gsts);
    CHECK(!(rd(VTD_FSTS) & (FSTS_PPF | FSTS_PFO)),
          "a fault pending right after the set-up (FSTS %x)", rd(VTD_FSTS));
    return RES_PASS;
}

/* For bench.c's bench_msi_ir: the unit set up as for the tests, IRTE 0
   remapping edu's MSIs (source-id verified) to CPU 0's vector v, edu's
   MSI address in remappable format naming it.  *e: edu, ready to raise. */
static uint32_t ir_addr(unsigned handle, bool shv);

int ir_bench_prepare(struct edu *e, unsigned v)
{
    TRY(ir_setup());
    TRY(irte_remap(0, 0, v, IRTE_SID(u.edu.bdf, SQ_ALL, SVT_SID)));
    edu_msi_set(&u.edu, ir_addr(0, false), 0);
    *e = u.edu;
    return RES_PASS;
}

/* ---- sending ------------------------------------------------------------------ */

/* 5.1.2.2 / 5.1.5.2: a remappable-format MSI address: 0xfee, handle[14:0]
   in bits 19:5, interrupt format (bit 4) = 1, SHV (bit 3), handle[15] in
   bit 2.  With SHV the data is the subhandle, added to the handle. */
static uint32_t ir_addr(unsigned handle, bool shv)
{
    return 0xfee00000u | (handle & 0x7fffu) << 5 | 1u << 4 | (shv ? 1u << 3 : 0) |
           (handle >> 15 & 1) << 2;
}

static void edu_send(uint32_t addr, uint16_t data)
{
    edu_msi_set(&u.edu, addr, data);
    reset_counts();
    mmio_write32(u.edu.bar + EDU_RAISE, 1);
    mmio_write32(u.edu.bar + EDU_ACK, 1);
}

static void edu_send_ir(unsigned handle, bool shv, uint16_t subhandle)
{
    edu_send(ir_addr(handle, shv), shv ? subhandle : 0);
}

/* After one message: wait up to WAIT_MS for the expected interrupts (the
   CPU with index cpu takes vector v once, cpu < 0: none; the BSP takes
   the fault event `events` times), then SETTLE_MS for more; every other
   count of vectors 0x20-0xfe on every CPU must be 0.  Noted as what was
   missing, then the first unexpected delivery. */
static void expect_irqs(const char *what, int cpu, unsigned v, unsigned events)
{
    uint64_t end = rdtsc() + ms_to_tsc(WAIT_MS);
    while (rdtsc() < end &&
           ((cpu >= 0 && cpus[cpu].cnt[v] < 1) || cpus[0].cnt[VEC_FAULT] < events))
        pause();
    delay_ms(SETTLE_MS);
    if (cpu >= 0 && cpus[cpu].cnt[v] != 1)
        note_fail("%s: cpu %u took vector %x %u times, expected once", what, cpu, v,
                  cpus[cpu].cnt[v]);
    if (cpus[0].cnt[VEC_FAULT] != events)
        note_fail("%s: fault event (vector %x at cpu 0) taken %u times, expected %u", what,
                  VEC_FAULT, cpus[0].cnt[VEC_FAULT], events);
    unsigned extra = 0;
    char first[80] = "";
    for (unsigned i = 0; i < ncpus; i++)
        for (unsigned w = 0x20; w < 0xff; w++) {
            if (((int)i == cpu && w == v) || (i == 0 && w == VEC_FAULT) || !cpus[i].cnt[w])
                continue;
            if (!extra++)
                snprintk(first, sizeof first, "cpu %u took vector %x %u times", i, w,
                         cpus[i].cnt[w]);
        }
    if (extra == 1)
        note_fail("%s: delivered: %s", what, first);
    else if (extra)
        note_fail("%s: delivered: %s, and %u more vectors", what, first, extra - 1);
}

/* ---- fault records ---------------------------------------------------------- */

static const char *reason_name(unsigned r)
{
    switch (r) {
    case 0x20: return "reserved field set in the interrupt request";
    case FR_INDEX: return "interrupt index beyond the table";
    case FR_NOT_PRESENT: return "IRTE not present";
    case 0x23: return "IRTE access failed";
    case 0x24: return "reserved field set in a present IRTE";
    case FR_COMPAT: return "compatibility-format interrupt blocked";
    case FR_SID: return "source-id verification failed";
    default: return "not an interrupt-remapping fault";
    }
}

static void frcd_read(unsigned i, uint64_t *lo, uint64_t *hi)
{
    unsigned off = u.fro + 16 * i;
    *lo = rd64(off);
    *hi = rd64(off + 8);
}

/* The message must have caused this fault: recorded (FSTS.PPF, the
   record FSTS.FRI names, F set) with reason, sid and, if index >= 0, FI
   bits 63:48 = index and 47:12 clear (11.4.14). */
static void expect_fault(const char *what, unsigned reason, uint16_t sid, int index)
{
    uint64_t end = rdtsc() + ms_to_tsc(WAIT_MS);
    while (!(rd(VTD_FSTS) & FSTS_PPF) && rdtsc() < end)
        pause();
    uint32_t fsts = rd(VTD_FSTS);
    if (!(fsts & FSTS_PPF)) {
        note_fail("%s: no fault recorded (FSTS %x; expected PPF and a record with reason %x)", what,
                  fsts, reason);
        return;
    }
    EXPECT(!(fsts & FSTS_PFO), "%s: FSTS.PFO set (FSTS %x)", what, fsts);
    unsigned fri = FSTS_FRI(fsts);
    if (fri >= u.nfr) {
        note_fail("%s: FSTS.FRI %u, but CAP.NFR says %u records", what, fri, u.nfr);
        return;
    }
    uint64_t lo, hi;
    frcd_read(fri, &lo, &hi);
    unsigned fr = (unsigned)(hi >> 32 & 0xff), rsid = (unsigned)(hi & 0xffff);
    printk("vtd: fault record %u: F=%u [INTR-REMAP] Request device [%02x:%02x.%u] fault index %lx "
           "[fault reason %02x] %s\n",
           fri, (unsigned)(hi >> 63), rsid >> 8, rsid >> 3 & 0x1f, rsid & 7, lo >> 48, fr,
           reason_name(fr));
    EXPECT(hi >> 63, "%s: FSTS.PPF set but record %u has F clear", what, fri);
    EXPECT(fr == reason, "%s: fault reason %x (%s), expected %x (%s)", what, fr, reason_name(fr),
           reason, reason_name(reason));
    EXPECT(rsid == sid, "%s: fault record SID %x, expected %x", what, rsid, sid);
    if (index >= 0)
        EXPECT(lo >> 48 == (unsigned)index && !(lo & 0x0000fffffffff000ull),
               "%s: FI %lx, expected index %x in bits 63:48 and 47:12 clear", what,
               (uint64_t)(lo & ~0xfffull), (unsigned)index);
}

/* Software's side: write 1 to F of every record (11.4.14) and to FSTS's
   write-1-to-clear bits; PPF, the OR of the F bits, must follow. */
static void clear_faults(const char *what)
{
    for (unsigned i = 0; i < u.nfr; i++)
        wr(u.fro + 16 * i + 12, FRCD_F_DWORD3);
    wr(VTD_FSTS, FSTS_RW1C);
    for (unsigned i = 0; i < u.nfr; i++)
        EXPECT(!(rd(u.fro + 16 * i + 12) & FRCD_F_DWORD3),
               "%s: record %u keeps F after writing 1 to it", what, i);
    EXPECT(!(rd(VTD_FSTS) & (FSTS_PPF | FSTS_PFO)), "%s: FSTS %x after clearing the records",
           what, rd(VTD_FSTS));
}

static void expect_no_fault(const char *what)
{
    uint32_t fsts = rd(VTD_FSTS);
    if (!(fsts & (FSTS_PPF | FSTS_PFO)))
        return;
    uint64_t lo, hi;
    frcd_read(FSTS_FRI(fsts) < u.nfr ? FSTS_FRI(fsts) : 0, &lo, &hi);
    note_fail("%s: fault recorded (FSTS %x, reason %x, SID %x, FI %lx)", what, fsts,
              (unsigned)(hi >> 32 & 0xff), (unsigned)(hi & 0xffff), (uint64_t)(lo & ~0xfffull));
    clear_faults(what);
}

/* A message that must be blocked with a fault: nothing delivered, the
   record, one fault event (FECTL.IM clear: sent, IP cleared, 7.3), then
   cleared by software. */
static void expect_blocked(const char *what, unsigned reason, uint16_t sid, int index)
{
    expect_irqs(what, -1, 0, 1);
    expect_fault(what, reason, sid, index);
    EXPECT(!(rd(VTD_FECTL) & FECTL_IP), "%s: FECTL.IP set after the fault event (FECTL %x)", what,
           rd(VTD_FECTL));
    clear_faults(what);
}

static void expect_delivered(const char *what, unsigned cpu, unsigned v)
{
    expect_irqs(what, (int)cpu, v, 0);
    expect_no_fault(what);
}

static uint16_t edu_sid(void) { return (uint16_t)u.edu.bdf; }
static unsigned edu_bus(void) { return u.edu.bdf >> 8; }

/* ---- the tests ----------------------------------------------------------------- */

/* Legitimate requests, one IRTE each, every CPU a target once: delivered
   to the IRTE's destination with the IRTE's vector, no fault. */
static int t_ir_remap(void)
{
    TRY(ir_setup());
    struct {
        unsigned index, handle;
        bool shv;
        uint16_t sub;
        unsigned svt, sq;
        uint16_t sid;
        const char *what;
    } c[] = {
        {1, 1, false, 0, SVT_SID, SQ_ALL, edu_sid(), "SVT 01 SQ 00, SID = edu, handle 1"},
        {6, 4, true, 2, SVT_SID, SQ_ALL, edu_sid(), "handle 4 + subhandle 2 (SHV) = index 6"},
        {9, 9, false, 0, SVT_SID, SQ_NO_FN, (uint16_t)(edu_sid() ^ 7),
         "SVT 01 SQ 11 (function ignored), SID = edu with another function"},
        {12, 12, false, 0, SVT_NONE, 0, 0x1234, "SVT 00 (no verification), SID 1234"},
    };
    char what[128];
    for (unsigned k = 0; k < sizeof c / sizeof c[0]; k++) {
        unsigned cpu = (k + 1) % ncpus, v = 0xa0 + k;
        TRY(irte_remap(c[k].index, cpu, v, IRTE_SID(c[k].sid, c[k].sq, c[k].svt)));
        edu_send_ir(c[k].handle, c[k].shv, c[k].sub);
        snprintk(what, sizeof what, "%s -> cpu %u vector %x", c[k].what, cpu, v);
        expect_delivered(what, cpu, v);
    }
    /* Retarget IRTE 1 (another CPU, another vector), invalidate: the same
       message now goes there (5.1.3: the IRTE decides, not the source). */
    TRY(irte_remap(1, 0, 0xa8, IRTE_SID(edu_sid(), SQ_ALL, SVT_SID)));
    edu_send_ir(1, false, 0);
    expect_delivered("IRTE 1 retargeted to cpu 0 vector a8", 0, 0xa8);
    edu_msi_off(&u.edu);
    return soft_result();
}

/* Forged source: the IRTE names another requester (5.1.4.1, 9.10 SVT 01):
   blocked, reason 26h with edu's SID; recorded again after software
   cleared the first record; the legitimate entry then works. */
static int t_ir_fault_sid(void)
{
    TRY(ir_setup());
    uint16_t other = (uint16_t)(edu_sid() ^ 0x08); /* the next device number */
    TRY(irte_remap(3, 1, 0xa3, IRTE_SID(other, SQ_ALL, SVT_SID)));
    edu_send_ir(3, false, 0);
    expect_blocked("IRTE 3 SID = another device, MSI from edu", FR_SID, edu_sid(), 3);
    edu_send_ir(3, false, 0);
    expect_blocked("the same forged MSI after clearing the record", FR_SID, edu_sid(), 3);
    TRY(irte_remap(3, 1, 0xa3, IRTE_SID(edu_sid(), SQ_ALL, SVT_SID)));
    edu_send_ir(3, false, 0);
    expect_delivered("IRTE 3 corrected to edu's SID", 1, 0xa3);
    edu_msi_off(&u.edu);
    return soft_result();
}

/* SVT 10: the requester's bus within [SID[15:8], SID[7:0]] (9.10; Linux's
   set_irte_verify_bus writes start << 8 | end). */
static int t_ir_sid_bus(void)
{
    TRY(ir_setup());
    unsigned b = edu_bus();
    CHECK(b < 0xf0, "edu on bus %x", b);
    TRY(irte_remap(2, 2 % ncpus, 0xa2, IRTE_SID(b << 8 | (b + 0x10), 0, SVT_BUS)));
    edu_send_ir(2, false, 0);
    expect_delivered("SVT 10, buses [edu's, edu's + 16]", 2 % ncpus, 0xa2);
    TRY(irte_remap(4, 1, 0xa4, IRTE_SID((b + 1) << 8 | 0xff, 0, SVT_BUS)));
    edu_send_ir(4, false, 0);
    expect_blocked("SVT 10, buses [edu's + 1, ff]", FR_SID, edu_sid(), 4);
    edu_msi_off(&u.edu);
    return soft_result();
}

/* Present bit clear (5.1.4.1): reason 22h.  This one with the fault event
   masked (11.4.10, 7.3): no message, FECTL.IP set; clearing IM sends it
   and clears IP. */
static int t_ir_fault_not_present(void)
{
    TRY(ir_setup());
    uint64_t lo = IRTE_VECTOR(0xa7) | IRTE_DST_XAPIC(cpus[2 % ncpus].apic_id);
    uint64_t hi = IRTE_SID(edu_sid(), SQ_ALL, SVT_SID);
    TRY(irte_set(7, lo, hi)); /* everything but P */
    wr(VTD_FECTL, FECTL_IM);
    edu_send_ir(7, false, 0);
    const char *what = "IRTE 7 not present (fault event masked)";
    expect_irqs(what, -1, 0, 0);
    expect_fault(what, FR_NOT_PRESENT, edu_sid(), 7);
    EXPECT(rd(VTD_FECTL) & FECTL_IP, "%s: FECTL.IP clear with IM set (FECTL %x)", what,
           rd(VTD_FECTL));
    reset_counts();
    wr(VTD_FECTL, 0);
    expect_irqs("clearing FECTL.IM with IP set", -1, 0, 1);
    EXPECT(!(rd(VTD_FECTL) & FECTL_IP), "FECTL.IP still set after the event (FECTL %x)",
           rd(VTD_FECTL));
    clear_faults(what);
    TRY(irte_set(7, lo | IRTE_P, hi));
    edu_send_ir(7, false, 0);
    expect_delivered("IRTE 7 made present", 2 % ncpus, 0xa7);
    edu_msi_off(&u.edu);
    return soft_result();
}

/* Compatibility format with remapping on, CFI clear (5.1.4.1): blocked,
   reason 25h (no interrupt index: FI not checked).  Remappable requests
   still pass; with remapping off again (GCMD.IRE = 0) the same
   compatibility-format message is delivered as it is (5.1.2.1). */
static int t_ir_fault_compat(void)
{
    TRY(ir_setup());
    CHECK(!(rd(VTD_GSTS) & G_CFI), "GSTS.CFIS set (GSTS %x)", rd(VTD_GSTS));
    unsigned cpu = 3 % ncpus;
    uint32_t compat = 0xfee00000u | cpus[cpu].apic_id << 12;
    edu_send(compat, 0xc4);
    expect_blocked("compatibility-format MSI with IRE = 1, CFIS = 0", FR_COMPAT, edu_sid(), -1);
    TRY(irte_remap(1, 1, 0xa1, IRTE_SID(edu_sid(), SQ_ALL, SVT_SID)));
    edu_send_ir(1, false, 0);
    expect_delivered("remappable MSI next to the blocked one", 1, 0xa1);
    TRY(gcmd(G_IRE, false, "IRES"));
    edu_send(compat, 0xc4);
    expect_delivered("compatibility-format MSI with IRE = 0", cpu, 0xc4);
    edu_msi_off(&u.edu);
    return soft_result();
}

/* Index at and beyond the table (5.1.2.2, 5.1.4.1): the last entry works;
   16 (2^(S+1)) faults with 21h; so does handle bit 15 (address bit 2),
   index 8000h, which must not alias entry 0. */
static int t_ir_fault_index(void)
{
    TRY(ir_setup());
    TRY(irte_remap(IRT_N - 1, 1, 0xaf, IRTE_SID(edu_sid(), SQ_ALL, SVT_SID)));
    TRY(irte_remap(0, 2 % ncpus, 0xa0, IRTE_SID(edu_sid(), SQ_ALL, SVT_SID)));
    edu_send_ir(IRT_N - 1, false, 0);
    expect_delivered("index 15, the last entry", 1, 0xaf);
    edu_send_ir(IRT_N, false, 0);
    expect_blocked("index 16, beyond the 16-entry table", FR_INDEX, edu_sid(), IRT_N);
    edu_send_ir(0x8000, false, 0);
    expect_blocked("handle 8000h (address bit 2)", FR_INDEX, edu_sid(), 0x8000);
    edu_msi_off(&u.edu);
    return soft_result();
}

/* The I/O APIC's messages carry its source ID, the one the DMAR table's
   device scope declares (5.1.1, 8.3.1), and are verified like any other:
   a remappable RTE (5.1.5.1: handle in bits 63:49 and 11, format bit 48,
   the vector equal to the IRTE's) is delivered through an IRTE naming
   that SID, and blocked (26h, the I/O APIC's SID) through one naming
   another.  pc-testdev drives ISA line 14 (t_ioapic.c), edge. */
#define IO_PIN 14
#define IO_VEC 0x9a

static void rte_remappable(unsigned pin, unsigned handle, unsigned v)
{
    ioapic_write(0x10 + 2 * pin, RTE_MASKED);
    ioapic_write(0x11 + 2 * pin, (handle & 0x7fffu) << 17 | 1u << 16);
    ioapic_write(0x10 + 2 * pin, v | (handle >> 15 & 1) << 11); /* edge, high, unmasked */
}

static void pulse(void)
{
    reset_counts();
    isa_line(IO_PIN, 1);
    isa_line(IO_PIN, 0);
}

static int t_ir_ioapic(void)
{
    TRY(ir_setup());
    CHECK(u.ioapic_sid >= 0, "the DMAR unit lists no I/O APIC with ID %u in its device scope",
          ioapic_read(0) >> 24 & 0xf);
    uint16_t sid = (uint16_t)u.ioapic_sid;
    unsigned cpu = 2 % ncpus;
    isa_line(IO_PIN, 0);
    /* Handle 5: read as a compatibility RTE, bits 63:56 would name APIC
       ID 0, not the IRTE's CPU. */
    TRY(irte_remap(5, cpu, IO_VEC, IRTE_SID(sid, SQ_ALL, SVT_SID)));
    rte_remappable(IO_PIN, 5, IO_VEC);
    pulse();
    expect_delivered("I/O APIC RTE handle 5, IRTE SID = the I/O APIC's", cpu, IO_VEC);
    TRY(irte_remap(5, cpu, IO_VEC, IRTE_SID(sid ^ 0x08, SQ_ALL, SVT_SID)));
    pulse();
    expect_blocked("I/O APIC RTE handle 5, IRTE SID = another", FR_SID, sid, 5);
    ioapic_write(0x10 + 2 * IO_PIN, RTE_MASKED);
    return soft_result();
}

/* ---- AMD-Vi: a remapping fault in the event log ---------------------------

   "AMD x.y" is the AMD I/O Virtualization Technology (IOMMU)
   Specification (pub. 48882): 2.2.2 the device table entry, 2.2.5.1 the
   32-bit IRTE, 2.5 the event log (2.5.3 IO_PAGE_FAULT), 3.4 the MMIO
   registers (3.4.4 control, 3.4.6 EFR, 3.4.12 status, 0170h the XT
   general interrupt control), 5.2 IVRS.  run.sh boots amdvi_* tests with
   -device amd-iommu,intremap=on and iommu=amdvi on the command line.
   The unit's interrupt goes out through the XT register (IntCapXTEn), to
   CPU 0 at VEC_FAULT; the edu device's DTE remaps through a 16-entry
   table of 32-bit IRTEs (GAEn = 0); nothing else is set up (no command
   buffer: the entries are written before the first message, so no cache
   holds them).  bench.c's bench_msi_ir_amd takes the same unit, DTE and
   table with the unit's own interrupt and event log left off
   (amd_bench_prepare). */

#define AMD_DEVTAB 0x0000
#define AMD_EVTLOG 0x0010
#define AMD_CONTROL 0x0018
#define AMD_EFR 0x0030
#define AMD_XT_GEN_INT 0x0170
#define AMD_EVT_HEAD 0x2010
#define AMD_EVT_TAIL 0x2018
#define AMD_STATUS 0x2020
#define AMD_EFR_XTSUP (1ull << 2)
#define AMD_CTL_IOMMU_EN (1ull << 0)
#define AMD_CTL (AMD_CTL_IOMMU_EN | 1ull << 2 | 1ull << 3 | 1ull << 51) /* and
    EventLogEn, EventIntEn, IntCapXTEn */
/* 32-bit IRTE (2.2.5.1): RemapEn bit 0, IntType 4:2 (000b fixed), DM bit 6
   (0 physical), Destination 15:8, Vector 23:16. */
#define AMD_IRTE_REMAP_EN 1u
#define AMD_IRTE(dest, v) (AMD_IRTE_REMAP_EN | (dest) << 8 | (v) << 16)
#define AMD_ST_EVT_INT (1u << 1)
#define AMD_ST_COMWAIT_INT (1u << 2)
#define AMD_IO_PAGE_FAULT 2ull

static uint64_t amd_devtab[256 * 4] __attribute__((aligned(4096))); /* 2 pages */
static uint64_t amd_evtlog[2 * 256] __attribute__((aligned(4096)));
static uint32_t amd_irt[16] __attribute__((aligned(128)));

/* The first IVHD of the IVRS table (5.2.2): its register base. */
static bool ivrs_find(void)
{
    const uint8_t *t = acpi_table("IVRS");
    if (!t || le(t + 4, 4) < 48 + 24 || (t[48] != 0x10 && t[48] != 0x11) ||
        le(t + 48 + 12, 4))
        return false;
    u.base = le(t + 48 + 8, 4);
    return true;
}

/* The unit (FAIL without it when the command line says iommu=) and edu. */
static int amd_open(void)
{
    char val[24];
    bool asked = cmdline_get(cmdline, "iommu", val, sizeof val);
    TRY(need_feature(ivrs_find(), asked, "AMD-Vi unit (ACPI IVRS table)"));
    TRY(edu_open(&u.edu));
    return RES_PASS;
}

/* edu's DTE, qword 2 (2.2.2): IV, IntTabLen 4 (16 entries), the table,
   IntCtl 10b (remapped).  V (qword 0 bit 0) stays clear: it validates
   the DMA-translation fields of qwords 0-1, IV the interrupt fields of
   qword 2, so remapping needs IV alone; so do both QEMUs (stock 7.2's
   amdvi_int_remap_msi reads IV and IntCtl, never V; checked with
   -trace 'amdvi_ir_*': data 0 -> 0x4063 for bench_msi_ir_amd). */
static void amd_dte_remap(void)
{
    amd_devtab[4 * u.edu.bdf + 2] = 1 | 4u << 1 | (uintptr_t)amd_irt | 2ull << 60;
}

static int amd_setup(void)
{
    TRY(amd_open());
    uint64_t efr = rd64(AMD_EFR);
    printk("amdvi: unit at %lx, EFR %lx, edu %02x:%02x.%u\n", (uint64_t)u.base, efr,
           u.edu.bdf >> 8, u.edu.bdf >> 3 & 0x1f, u.edu.bdf & 7);
    CHECK(efr & AMD_EFR_XTSUP, "EFR.XTSup clear: no XT general interrupt control (EFR %lx)",
          efr);
    amd_dte_remap();
    amd_irt[3] = AMD_IRTE(cpus[1 % ncpus].apic_id, 0x63u);
    mfence();
    wr64(AMD_XT_GEN_INT, (uint64_t)cpus[0].apic_id << 8 | (uint64_t)VEC_FAULT << 32);
    wr64(AMD_DEVTAB, (uintptr_t)amd_devtab | 1); /* Size 1: 2 pages */
    wr64(AMD_EVTLOG, (uintptr_t)amd_evtlog | 8ull << 56); /* 256 entries */
    wr64(AMD_EVT_HEAD, 0);
    wr64(AMD_EVT_TAIL, 0);
    wr(AMD_STATUS, AMD_ST_EVT_INT | AMD_ST_COMWAIT_INT | 1); /* RW1C */
    wr64(AMD_CONTROL, AMD_CTL);
    return RES_PASS;
}

/* For bench.c's bench_msi_ir_amd: edu's DTE remapping through the table,
   IRTE 0 (32-bit, 2.2.5.1: RemapEn, fixed, physical) to CPU 0's APIC ID
   with vector v, the unit enabled with IOMMUEn alone (3.4.4): no XT (the
   destination is an 8-bit xAPIC ID), GAEn clear (32-bit IRTEs), no event
   log, no command buffer (the entries are written before the unit is
   enabled, so no cache holds an older copy).  edu's MSI: address
   0xfee00000, data 0: the IRTE index in bits 10:0 (2.2.5; stock QEMU
   also takes bits 10:8 for the message type, 000b fixed, before it
   looks the entry up).  Stock QEMU 7.2 remaps this as it is
   (-device amd-iommu,intremap=on, no XT support needed).  *e: edu,
   ready to raise. */
int amd_bench_prepare(struct edu *e, unsigned v)
{
    TRY(amd_open());
    printk("amdvi: unit at %lx, EFR %lx, edu %02x:%02x.%u\n", (uint64_t)u.base,
           rd64(AMD_EFR), u.edu.bdf >> 8, u.edu.bdf >> 3 & 0x1f, u.edu.bdf & 7);
    amd_dte_remap();
    amd_irt[0] = AMD_IRTE(cpus[0].apic_id, v);
    mfence();
    wr64(AMD_DEVTAB, (uintptr_t)amd_devtab | 1); /* Size 1: 2 pages */
    wr64(AMD_CONTROL, AMD_CTL_IOMMU_EN);
    edu_msi_set(&u.edu, 0xfee00000u, 0);
    *e = u.edu;
    return RES_PASS;
}

/* A legitimate message (IRTE 3) is remapped; a forged one (IRTE 5, RemapEn
   clear: 2.2.5.1) is blocked and logged as IO_PAGE_FAULT with I = 1 and
   the edu's device ID (2.5.3), the tail moves by one entry, EventLogInt
   (not ComWaitInt) is set and the unit's interrupt arrives once. */
static int t_amdvi_fault(void)
{
    TRY(amd_setup());
    unsigned cpu = 1 % ncpus;
    edu_send(0xfee00000u, 3);
    expect_irqs("edu MSI, IRTE 3", (int)cpu, 0x63, 0);
    CHECK(rd(AMD_EVT_TAIL) == 0, "an event logged for a remapped message (tail %x)",
          rd(AMD_EVT_TAIL));
    edu_send(0xfee00000u, 5);
    expect_irqs("edu MSI, IRTE 5 (RemapEn 0)", -1, 0, 1);
    uint64_t q0 = amd_evtlog[0], q1 = amd_evtlog[1];
    uint32_t st = rd(AMD_STATUS);
    printk("amdvi: event %lx %lx, tail %x, status %x\n", q0, q1, rd(AMD_EVT_TAIL), st);
    EXPECT(rd(AMD_EVT_TAIL) == 16, "tail %x, expected 0x10 (one entry)", rd(AMD_EVT_TAIL));
    EXPECT(q0 >> 60 == AMD_IO_PAGE_FAULT, "event code %lx, expected IO_PAGE_FAULT (2)",
          q0 >> 60);
    EXPECT((q0 & 0xffff) == u.edu.bdf, "device ID %lx, expected edu's %x", q0 & 0xffff,
          u.edu.bdf);
    EXPECT(q0 >> 51 & 1, "I (interrupt request) clear in %lx", q0);
    EXPECT(q1 == 0xfee00000u, "address %lx, expected the message's fee00000", q1);
    EXPECT(st & AMD_ST_EVT_INT, "EventLogInt clear (status %x)", st);
    EXPECT(!(st & AMD_ST_COMWAIT_INT), "ComWaitInt set for an event (status %x)", st);
    wr(AMD_STATUS, AMD_ST_EVT_INT);
    EXPECT(!(rd(AMD_STATUS) & AMD_ST_EVT_INT), "EventLogInt not cleared by writing 1");
    return soft_result();
}

/* ---- AMD-Vi XT: the 32-bit destination of a 128-bit IRTE -----------------

   3.4.4: Control GAEn (bit 17) makes the interrupt remapping table one of
   128-bit IRTEs (2.2.5.2), XTEn (bit 50) makes their destination 32 bits
   wide: Destination[23:0] in bits 31:8, Destination[31:24] in bits 127:120
   (the high qword's bits 63:56).  Without XTEn only Destination[7:0]
   names the APIC (an xAPIC ID), whatever the other bits hold.  Both need
   the unit to report them (3.4.6: EFR.GASup bit 7, EFR.XTSup bit 2).

   The set-up is amd_setup's, then: every CPU in x2APIC mode (SDM 11.12;
   a 32-bit destination means nothing to an xAPIC), edu's DTE pointing at
   a 16-entry table of 128-bit IRTEs, a command buffer (3.4.2, 2.4), and
   Control with CmdBufEn, GAEn and XTEn.  Every change the unit may have
   cached (the DTE, the table, the meaning of the entries) is followed by
   INVALIDATE_DEVTAB_ENTRY / INVALIDATE_INTERRUPT_TABLE (2.4.2, 2.4.5) and
   a COMPLETION_WAIT whose store tells that they are done (2.4.1). */

#define AMD_CMDBUF 0x0008
#define AMD_CMD_HEAD 0x2000
#define AMD_CMD_TAIL 0x2008
#define AMD_EFR_GASUP (1ull << 7)
#define AMD_CTL_CMDBUF_EN (1ull << 12)
#define AMD_CTL_GA_EN (1ull << 17)
#define AMD_CTL_XT_EN (1ull << 50)
#define AMD_ST_CMDBUF_RUN (1u << 4)
#define AMD_CMD_COMPLETION_WAIT (1ull << 60) /* S (store) is bit 0 */
#define AMD_CMD_INV_DEVTAB_ENTRY (2ull << 60)
#define AMD_CMD_INV_INTERRUPT_TABLE (5ull << 60)
#define AMD_CMD_N 256 /* ComLen 8: the minimum, one 4 KiB page */

/* 2.2.5.2, GuestMode 0: RemapEn, IntType 000b (fixed), DM 0 (physical);
   Destination[23:0] in lo 31:8, Destination[31:24] in hi 63:56, the
   vector in hi 7:0. */
#define GA_LO(dest) (1ull | (uint64_t)((dest) & 0xffffffu) << 8)
#define GA_HI(dest, v) ((uint64_t)(v) | (uint64_t)((dest) >> 24) << 56)

static uint64_t amd_irt_ga[2 * 16] __attribute__((aligned(256)));
static uint64_t amd_cmdbuf[2 * AMD_CMD_N] __attribute__((aligned(4096)));
static volatile uint64_t amd_cmd_store;
static unsigned amd_cmd_tail;

static void amd_cmd(uint64_t q0, uint64_t q1)
{
    amd_cmdbuf[2 * amd_cmd_tail] = q0;
    amd_cmdbuf[2 * amd_cmd_tail + 1] = q1;
    amd_cmd_tail = (amd_cmd_tail + 1) % AMD_CMD_N;
}

/* Queue a COMPLETION_WAIT storing a fresh token (2.4.1: S = 1, the store
   address in bits 51:3, the data in the second qword), move the tail
   (MMIO 2008h, bits 18:4) and wait for the store: every command before
   it is then complete. */
static int amd_cmd_sync(const char *what)
{
    static uint64_t token;
    uint64_t t = ++token;
    amd_cmd(AMD_CMD_COMPLETION_WAIT | (uintptr_t)&amd_cmd_store | 1, t);
    mfence();
    wr(AMD_CMD_TAIL, amd_cmd_tail << 4);
    uint64_t end = rdtsc() + ms_to_tsc(WAIT_MS);
    while (amd_cmd_store != t) {
        CHECK(rdtsc() < end,
              "%s: COMPLETION_WAIT store never came (head %x, tail %x, status %x, "
              "event tail %x)",
              what, rd(AMD_CMD_HEAD), rd(AMD_CMD_TAIL), rd(AMD_STATUS), rd(AMD_EVT_TAIL));
        pause();
    }
    return RES_PASS;
}

static int amd_xt_setup(void)
{
    TRY(amd_setup()); /* the unit, EFR.XTSup */
    uint64_t efr = rd64(AMD_EFR);
    CHECK(efr & AMD_EFR_GASUP, "EFR.GASup clear: no 128-bit IRTEs (EFR %lx)", efr);
    CHECK(ncpus >= 2, "needs 2 CPUs, %u online", ncpus);
    TRY(x2apic_enable_all());

    for (unsigned i = 0; i < 2 * 16; i++)
        amd_irt_ga[i] = 0;
    /* DTE qword 2 (2.2.2): IV, IntTabLen 4 (16 entries), the table
       (IntTableRootPtr, bits 51:6; the table is 256-byte aligned),
       IntCtl 10b. */
    amd_devtab[4 * u.edu.bdf + 2] = 1 | 4u << 1 | (uintptr_t)amd_irt_ga | 2ull << 60;
    mfence();

    /* 3.4.2: base and ComLen 8 (256 entries) while CmdBufEn is clear;
       head and tail 0.  Then Control: CmdBufEn, GAEn, XTEn on top of
       amd_setup's bits. */
    wr64(AMD_CMDBUF, (uintptr_t)amd_cmdbuf | 8ull << 56);
    wr64(AMD_CMD_HEAD, 0);
    wr64(AMD_CMD_TAIL, 0);
    amd_cmd_tail = 0;
    wr64(AMD_CONTROL, AMD_CTL | AMD_CTL_CMDBUF_EN | AMD_CTL_GA_EN | AMD_CTL_XT_EN);
    uint64_t ctl = rd64(AMD_CONTROL);
    CHECK((ctl & (AMD_CTL_GA_EN | AMD_CTL_XT_EN)) == (AMD_CTL_GA_EN | AMD_CTL_XT_EN),
          "Control %lx: GAEn (17) and XTEn (50) did not stick", ctl);
    CHECK(rd(AMD_STATUS) & AMD_ST_CMDBUF_RUN, "CmdBufRun clear after CmdBufEn (status %x)",
          rd(AMD_STATUS));
    amd_cmd(AMD_CMD_INV_DEVTAB_ENTRY | u.edu.bdf, 0);
    amd_cmd(AMD_CMD_INV_INTERRUPT_TABLE | u.edu.bdf, 0);
    return amd_cmd_sync("DTE and interrupt table invalidation after GAEn/XTEn");
}

#define XT_FENCE_INDEX 4
#define VEC_XT_FENCE 0x40 /* below the tested vectors' priority class */

/* After one edu message: the CPUs in mask take vector v once each, nobody
   takes anything else (but the fence), and the unit logged no event (the
   message was remapped, not blocked: where it goes is the APICs'
   business). */
static void amd_xt_expect(const char *what, uint32_t mask, unsigned v)
{
    uint32_t want[MAX_CPUS];
    want_mask(want, mask);
    expect_counts_soft(v, want, what);
    for (unsigned i = 0; i < ncpus; i++)
        for (unsigned w = 0x20; w < 0xff; w++)
            if (w != v && w != VEC_XT_FENCE && cpus[i].cnt[w])
                note_fail("%s: cpu %u took vector %x %u times", what, i, w, cpus[i].cnt[w]);
    EXPECT(rd(AMD_EVT_TAIL) == 0, "%s: event logged (tail %x, event %lx %lx)", what,
           rd(AMD_EVT_TAIL), amd_evtlog[0], amd_evtlog[1]);
}

/* A message that must reach nobody: "not within SETTLE_MS" is weak when
   the host is slow to run a vCPU, so edu then sends IRTE 4, a broadcast
   with a lower-priority vector, and every CPU must take it.  The two
   messages come from one device in order, so by then the first one is
   in an IRR if it was delivered at all, and a CPU takes the highest
   vector in its IRR first (SDM 11.8.4). */
static void amd_xt_expect_none(const char *what, unsigned v)
{
    uint32_t want[MAX_CPUS];
    char f[160];
    snprintk(f, sizeof f, "%s, then the fence (IRTE 4, broadcast)", what);
    edu_msi_set(&u.edu, 0xfee00000u, XT_FENCE_INDEX);
    mmio_write32(u.edu.bar + EDU_RAISE, 1);
    mmio_write32(u.edu.bar + EDU_ACK, 1);
    want_mask(want, (1u << ncpus) - 1);
    expect_counts_soft(VEC_XT_FENCE, want, f);
    amd_xt_expect(what, 0, v);
}

/* With XTEn, the IRTE's 32 destination bits decide: FFFF_FFFFh reaches
   every CPU (SDM 11.12.9: the x2APIC broadcast, physical mode), CPU 1's
   x2APIC ID with bit 8 or bit 24 set reaches nobody (no such APIC; not
   CPU 1, which an 8-bit reading would pick).  With XTEn cleared (GAEn
   kept) the same entries name Destination[7:0] only: CPU 1. */
static int t_amdvi_xt_dest(void)
{
    TRY(amd_xt_setup());
    uint32_t id1 = cpus[1].apic_id, all = (1u << ncpus) - 1;
    CHECK(id1 < 0x100, "cpu 1 has x2APIC ID %x; the test needs one below 100h", id1);
    static const struct {
        unsigned index, v;
        uint32_t high; /* destination bits above 7:0, or'ed to CPU 1's ID */
        const char *where;
    } c[] = {
        {2, 0x65, 0x00000100u, "Destination[8] (lo bit 16)"},
        {3, 0x66, 0x01000000u, "Destination[24] (hi bit 56)"},
    };
    amd_irt_ga[2 * 1] = GA_LO(0xffffffffu);
    amd_irt_ga[2 * 1 + 1] = GA_HI(0xffffffffu, 0x64);
    amd_irt_ga[2 * XT_FENCE_INDEX] = GA_LO(0xffffffffu);
    amd_irt_ga[2 * XT_FENCE_INDEX + 1] = GA_HI(0xffffffffu, VEC_XT_FENCE);
    for (unsigned k = 0; k < 2; k++) {
        amd_irt_ga[2 * c[k].index] = GA_LO(id1 | c[k].high);
        amd_irt_ga[2 * c[k].index + 1] = GA_HI(id1 | c[k].high, c[k].v);
    }
    mfence();
    amd_cmd(AMD_CMD_INV_INTERRUPT_TABLE | u.edu.bdf, 0);
    TRY(amd_cmd_sync("interrupt table invalidation after writing IRTEs 1-4"));

    /* MSI data[10:0] is the IRTE index (2.2.5, IntCtl 10b); data[10:8]
       = 000b: a fixed interrupt, which the IOMMU remaps. */
    char what[128];
    edu_send(0xfee00000u, 1);
    amd_xt_expect("XTEn: IRTE 1, destination FFFF_FFFFh (x2APIC broadcast, SDM 11.12.9)", all,
                  0x64);
    for (unsigned k = 0; k < 2; k++) {
        snprintk(what, sizeof what, "XTEn: IRTE %u, destination %x (%s set): no such APIC",
                 c[k].index, id1 | c[k].high, c[k].where);
        edu_send(0xfee00000u, (uint16_t)c[k].index);
        amd_xt_expect_none(what, c[k].v);
    }

    /* XTEn off, GAEn on: the table keeps its 128-bit format (so no entry
       changes size), the destination is Destination[7:0].  The unit may
       have cached the entries' remapping: invalidate them before the next
       message. */
    uint64_t ctl = rd64(AMD_CONTROL) & ~AMD_CTL_XT_EN;
    wr(AMD_CONTROL + 4, (uint32_t)(ctl >> 32));
    ctl = rd64(AMD_CONTROL);
    CHECK(!(ctl & AMD_CTL_XT_EN) && (ctl & AMD_CTL_GA_EN),
          "Control %lx after clearing XTEn: expected XTEn 0, GAEn 1", ctl);
    amd_cmd(AMD_CMD_INV_INTERRUPT_TABLE | u.edu.bdf, 0);
    TRY(amd_cmd_sync("interrupt table invalidation after clearing XTEn"));
    for (unsigned k = 0; k < 2; k++) {
        snprintk(what, sizeof what,
                 "XTEn clear: IRTE %u, destination %x: Destination[7:0] %x = cpu 1", c[k].index,
                 id1 | c[k].high, id1);
        edu_send(0xfee00000u, (uint16_t)c[k].index);
        amd_xt_expect(what, 1u << 1, c[k].v);
    }
    edu_msi_off(&u.edu);
    return soft_result();
}

const struct test amdvi_tests[] = {
    {"amdvi_fault", t_amdvi_fault},
    {"amdvi_xt_dest", t_amdvi_xt_dest},
    {0, 0},
};

const struct test ir_tests[] = {
    {"ir_remap", t_ir_remap},
    {"ir_fault_sid", t_ir_fault_sid},
    {"ir_sid_bus", t_ir_sid_bus},
    {"ir_fault_not_present", t_ir_fault_not_present},
    {"ir_fault_compat", t_ir_fault_compat},
    {"ir_fault_index", t_ir_fault_index},
    {"ir_ioapic", t_ir_ioapic},
    {0, 0},
};
