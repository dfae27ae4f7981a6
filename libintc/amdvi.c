/*
 * libintc — AMD-Vi interrupt remapping (AMD I/O Virtualization Technology
 * (IOMMU) Specification, pub. 48882: 2.2.5 interrupt remapping, 2.2.5.2
 * guest virtual APIC (GA) entries, 2.4 commands, 2.5 event log, 3.4 MMIO
 * registers).
 *
 * Model choices the specification leaves open or that are not confirmed
 * against hardware (each marked "choice" where it is made):
 *  - a device ID beyond the device table (DevTabSize) is an
 *    ILLEGAL_DEV_TABLE_ENTRY, blocked;
 *  - SMI and the reserved delivery modes (011b, 110b) of a device whose
 *    DTE has IV=1 are blocked with INVALID_DEVICE_REQUEST;
 *  - target aborts (IntCtl 00b, a pass bit clear) and an index beyond
 *    IntTabLen log IO_PAGE_FAULT with I=1 unless the DTE's IG bit is set;
 *    RemapEn=0 logs it unless the IRTE's SupIOPF is set; reserved IRTE
 *    contents log it with RZ=1 (always);
 *  - the event-log address field of an interrupt fault is the MSI address
 *    of the request (the IRTE index is in INTC_EV_IR_FAULT's data2);
 *  - Lint0Pass/Lint1Pass concern HyperTransport LINT messages, which have
 *    no MSI encoding: stored in the DTE, never consulted;
 *  - guest mode: the vector is set in the vAPIC backing page's IRR; the
 *    doorbell (IsRun=1) has no vector, so it is only INTC_EV_IR_POSTED
 *    with data2=1; the GA log (IsRun=0, GALogIntr=1) is not modelled
 *    (INTC_EV_IR_POSTED with data2=0);
 *  - the IOMMU's own interrupts (event log, completion wait) go out
 *    through its PCI MSI capability, which the host owns: libintc sets the
 *    status bit and emits INTC_EV_IR_STATUS (pin = 0x2020, data = status,
 *    data2 = the status bit that raised it);
 *  - ComLen/EventLen below 8 (reserved) act as 8 (256 entries); head and
 *    tail pointers are taken modulo the buffer size.
 */
#include "internal.h"
#include "snap_priv.h"

/* MMIO registers (3.4). */

#define ADDR_51_12 0x000ffffffffff000ull
#define DEVTAB_MASK (ADDR_51_12 | 0x1ffull) /* base, Size 8:0 */
#define RING_MASK (ADDR_51_12 | 0xfull << 56) /* base, Len 59:56 */
#define EXCL_BASE_MASK (ADDR_51_12 | 3ull)    /* ExEn, Allow */
#define PTR_MASK 0x7fff0ull                   /* head/tail 18:4 */

/* Control (3.4.4). */
#define CTL_IOMMU_EN (1ull << 0)
#define CTL_EVT_LOG_EN (1ull << 2)
#define CTL_EVT_INT_EN (1ull << 3)
#define CTL_COMWAIT_INT_EN (1ull << 4)
#define CTL_CMDBUF_EN (1ull << 12)
#define CTL_GA_EN (1ull << 17)
#define CTL_GA_BITS (CTL_GA_EN | 0x1full << 25) /* GAMEn, GALogEn, GAIntEn */
#define CTL_XT_BITS (3ull << 50)                /* XTEn, IntCapXTEn */
#define CTL_XT_EN (1ull << 50)
#define CTL_BASE_RW 0x1ffffull /* bits 16:0: held (most not modelled) */

/* Extended Feature register (3.4.6). */
#define EFR_XT_SUP (1ull << 2)
#define EFR_IA_SUP (1ull << 6) /* INVALIDATE_IOMMU_ALL */
#define EFR_GA_SUP (1ull << 7)
#define EFR_GAM_VAPIC (1ull << 21) /* GAMSup = 001b */

/* Status (3.4.12). */
#define ST_EVT_OVERFLOW (1ull << 0)
#define ST_EVT_LOG_INT (1ull << 1)
#define ST_COMWAIT_INT (1ull << 2)
#define ST_EVT_LOG_RUN (1ull << 3)
#define ST_CMDBUF_RUN (1ull << 4)
#define ST_RW1C (ST_EVT_OVERFLOW | ST_EVT_LOG_INT | ST_COMWAIT_INT)

/* DTE qword 2: the interrupt fields (2.2.2.2). */
#define DTE_IV (1ull << 0)
#define DTE_IG (1ull << 5)
#define DTE_IRT_MASK 0x000fffffffffffc0ull /* IntTableRootPtr 51:6 */
#define DTE_RSVD 0x08f0000000000000ull     /* bits 55:52, 59 */
#define DTE_INIT_PASS (1ull << 56)
#define DTE_EINT_PASS (1ull << 57)
#define DTE_NMI_PASS (1ull << 58)

/* IRTE (2.2.5.1 32-bit, 2.2.5.2 128-bit). */
#define IRTE_REMAP_EN (1ull << 0)
#define IRTE_SUP_IOPF (1ull << 1)
#define IRTE_DM (1ull << 6)
#define IRTE_GUEST_MODE (1ull << 7)
#define IRTE_IS_RUN (1ull << 6) /* guest mode */
#define IRTE_GA_RSVD_HI 0x00f0000000000f00ull /* hi 11:8, 55:52 */

/* Event codes (2.5): enum intc_amdvi_event in iommu.h. */
/* Event qword 0 flags (2.5.2-2.5.3). */
#define EV_I (1ull << 51)  /* interrupt request */
#define EV_RW (1ull << 53) /* write (an interrupt is a write) */
#define EV_RZ (1ull << 55) /* reserved bit or illegal value */

/* Commands (2.4). */
enum amdvi_cmd {
    CMD_COMPLETION_WAIT = 1,
    CMD_INV_DEVTAB_ENTRY = 2,
    CMD_INV_IOMMU_PAGES = 3,
    CMD_INV_IOTLB_PAGES = 4,
    CMD_INV_INTERRUPT_TABLE = 5,
    CMD_INV_IOMMU_ALL = 8
};

/*
 * Entry-cache keys, all within the device's range [devid << 16,
 * (devid + 1) << 16) that intc_iommu_invalidate() drops: IRTE index n
 * (< 2048) is devid << 16 | n; the DTE is devid << 16 | 0x8000 | devid
 * (the low bits spread DTEs over the direct-mapped lines).
 */
#define IRTE_MAX 0x800u
static inline uint64_t irte_key(uint16_t devid, uint32_t index)
{
    return (uint64_t)devid << 16 | index;
}

static inline uint64_t dte_key(uint16_t devid)
{
    return (uint64_t)devid << 16 | 0x8000u | (devid & 0x7fffu);
}

static inline struct intc_amdvi *A(intc_iommu *u)
{
    return &u->amd;
}

static uint64_t efr_value(const intc_iommu *u)
{
    return EFR_IA_SUP | (u->cfg.x2apic ? EFR_XT_SUP : 0) |
           (u->cfg.posted ? EFR_GA_SUP | EFR_GAM_VAPIC : 0);
}

static uint64_t control_writable(const intc_iommu *u)
{
    return CTL_BASE_RW | (u->cfg.posted ? CTL_GA_BITS : 0) |
           (u->cfg.x2apic ? CTL_XT_BITS : 0);
}

static void amdvi_reset(intc_iommu *u)
{
    /* 3.4: every register resets to 0 (the EFR is computed). */
    memset(&u->amd, 0, sizeof(u->amd));
}

static bool amdvi_enabled(const intc_iommu *u)
{
    return u->amd.control & CTL_IOMMU_EN;
}

bool intc__amdvi_available(void)
{
    return true;
}

/* Entries of a command buffer or event log: 2^Len, Len >= 8 (choice:
   reserved smaller values act as 8). */
static inline uint32_t ring_entries(uint64_t reg)
{
    unsigned len = (unsigned)(reg >> 56) & 0xf;
    return 1u << (len < 8 ? 8 : len);
}

/* ---- the IOMMU's own interrupt (3.4.12) ---- */

/* Set a status bit; if it was clear and its enable is set, the IOMMU
   signals its MSI, which the host owns: tell it through the event. */
static void raise_status(intc_iommu *u, uint64_t bit, bool int_en)
{
    struct intc_amdvi *a = A(u);
    bool was = a->status & bit;
    a->status |= bit;
    if (int_en && !was && intc__tracing(u->m))
        intc__emit_unit(u->m, INTC_EV_IR_STATUS, INTC_NO_CPU, -1, 0,
                       INTC_AMDVI_STATUS, a->status, bit);
}

/* ---- event log (2.5) ---- */

/*
 * Append an event.  Nothing is logged unless EventLogEn and EventLogRun;
 * a full log (tail + 1 == head) discards the event, sets EventOverflow
 * and stops logging until software clears it and writes EventLogEn = 1
 * again (3.4.12 EventOverflow).
 */
static bool log_event(intc_iommu *u, uint64_t q0, uint64_t q1)
{
    struct intc_amdvi *a = A(u);
    uint32_t n = ring_entries(a->evtlog);
    uint32_t head = (uint32_t)(a->evt_head >> 4) % n;
    uint32_t tail = (uint32_t)(a->evt_tail >> 4) % n;
    uint64_t e[2] = {q0, q1};

    if (!(a->control & CTL_EVT_LOG_EN) || !(a->status & ST_EVT_LOG_RUN))
        return false;
    if ((tail + 1) % n == head) {
        a->status &= ~ST_EVT_LOG_RUN;
        raise_status(u, ST_EVT_OVERFLOW, a->control & CTL_EVT_INT_EN);
        return false;
    }
    if (!intc__dma_write(u->m, (a->evtlog & ADDR_51_12) + 16ull * tail, e,
                        sizeof(e)))
        return false; /* nowhere to report it */
    a->evt_tail = (uint64_t)((tail + 1) % n) << 4;
    if (a->control & CTL_EVT_INT_EN)
        raise_status(u, ST_EVT_LOG_INT, true);
    return true;
}

/* An interrupt request that is not delivered: block it, log the event
   (unless suppressed) and tell the host: INTC_EV_IR_FAULT's data has the
   entry's bits 63:48 (code, I, RW, RZ) and whether it was suppressed, so
   a host with its own event log writes the same entry. */
static void fault(intc_iommu *u, intc_irq *out, unsigned code, uint16_t sid,
                  uint32_t index, uint64_t flags, uint64_t ev_addr,
                  bool suppressed)
{
    bool recorded = false;
    uint64_t q0 = (uint64_t)code << 60 | flags | EV_I | EV_RW | sid;
    out->fault = code;
    out->blocked = true;
    out->index = index;
    if (!suppressed)
        recorded = log_event(u, q0, ev_addr);
    if (intc__tracing(u->m))
        intc__emit_unit(u->m, INTC_EV_IR_FAULT, INTC_NO_CPU, -1, 0, sid,
                       code | (uint64_t)recorded << 8 |
                           (uint64_t)suppressed << 9 |
                           (q0 & 0xffff000000000000ull),
                       index);
}

/* ---- remapping (2.2.5) ---- */

/* "Forwarded unmapped": the original message goes on as it is (iommu.c
   decodes and delivers it). */
static void forward(intc_irq *out)
{
    out->remapped = false;
}

/* The DTE's interrupt qword (cached).  False: faulted. */
static bool read_dte(intc_iommu *u, uint16_t sid, uint64_t addr,
                     intc_irq *out, uint64_t *q2)
{
    struct intc_amdvi *a = A(u);
    uint64_t n = ((a->devtab & 0x1ff) + 1) * (4096 / 32);
    uint64_t hi, e[4];

    if (intc__iec_lookup(u, dte_key(sid), q2, &hi))
        return true;
    if (sid >= n) { /* choice: beyond DevTabSize */
        fault(u, out, INTC_AMDVI_ILLEGAL_DEV_TABLE_ENTRY, sid, 0, 0, addr, false);
        return false;
    }
    if (!intc__dma_read(u->m, (a->devtab & ADDR_51_12) + 32ull * sid, e,
                       sizeof(e))) {
        fault(u, out, INTC_AMDVI_DEV_TAB_HW_ERROR, sid, 0, 0,
              (a->devtab & ADDR_51_12) + 32ull * sid, false);
        return false;
    }
    *q2 = e[2];
    intc__iec_fill(u, dte_key(sid), e[2], e[0]);
    return true;
}

/* Guest virtual APIC mode (2.2.5.2): set the vector in the vAPIC backing
   page's IRR, then ring the doorbell if the vCPU runs. */
static void post_guest(intc_iommu *u, uint16_t sid, uint32_t index,
                       uint64_t lo, uint64_t hi, uint32_t dest, bool xt,
                       intc_irq *out)
{
    uint8_t v = (uint8_t)hi;
    uint64_t page = hi & ADDR_51_12;
    uint64_t w = page + 0x200 + 0x10 * (v / 32);
    uint32_t irr;
    bool run = lo & IRTE_IS_RUN;

    if (!intc__dma_read(u->m, w, &irr, 4)) {
        fault(u, out, INTC_AMDVI_PAGE_TAB_HW_ERROR, sid, index, 0, w, false);
        return;
    }
    irr |= 1u << (v % 32);
    if (!intc__dma_write(u->m, w, &irr, 4)) {
        fault(u, out, INTC_AMDVI_PAGE_TAB_HW_ERROR, sid, index, 0, w, false);
        return;
    }
    out->posted = true;
    out->remapped = true;
    out->index = index;
    out->vector = v;
    out->dest = dest;
    out->x2apic = xt;
    /* IsRun: doorbell to the physical APIC dest (no vector: the event is
       all there is).  !IsRun with GALogIntr: the GA log is not modelled. */
    if (intc__tracing(u->m))
        intc__emit_unit(u->m, INTC_EV_IR_POSTED, INTC_NO_CPU, v, 0, sid, page,
                       run);
}

static void amdvi_remap(intc_iommu *u, uint16_t sid, uint64_t addr,
                      uint32_t data, intc_irq *out)
{
    struct intc_amdvi *a = A(u);
    unsigned dm = (data >> 8) & 7;
    uint64_t dte, lo, hi;
    uint32_t index, size;
    unsigned tablen, intctl, type;
    bool ga = a->control & CTL_GA_EN;
    /* XTEn needs the 128-bit format: a 32-bit IRTE has 8 dest bits. */
    bool xt = ga && (a->control & CTL_XT_EN);
    bool ig;

    if (!read_dte(u, sid, addr, out, &dte))
        return;
    if (!(dte & DTE_IV)) { /* interrupt fields not valid: unmapped */
        forward(out);
        return;
    }
    tablen = (unsigned)(dte >> 1) & 0xf;
    intctl = (unsigned)(dte >> 60) & 3;
    ig = dte & DTE_IG;
    if (tablen >= 12 || intctl == 3 || (dte & DTE_RSVD)) {
        fault(u, out, INTC_AMDVI_ILLEGAL_DEV_TABLE_ENTRY, sid, 0, EV_RZ, addr,
              false);
        return;
    }
    switch (dm) {
    case INTC_DM_FIXED:
    case INTC_DM_LOWEST:
        break;
    case INTC_DM_NMI:
    case INTC_DM_INIT:
    case INTC_DM_EXTINT: {
        uint64_t pass = dm == INTC_DM_NMI    ? DTE_NMI_PASS
                        : dm == INTC_DM_INIT ? DTE_INIT_PASS
                                             : DTE_EINT_PASS;
        if (dte & pass)
            forward(out);
        else /* target abort */
            fault(u, out, INTC_AMDVI_IO_PAGE_FAULT, sid, 0, 0, addr, ig);
        return;
    }
    default: /* SMI, 011b, 110b (choice) */
        fault(u, out, INTC_AMDVI_INVALID_DEVICE_REQUEST, sid, 0, 0, addr, false);
        return;
    }
    if (intctl == 0) { /* target abort */
        fault(u, out, INTC_AMDVI_IO_PAGE_FAULT, sid, 0, 0, addr, ig);
        return;
    }
    if (intctl == 1) {
        forward(out);
        return;
    }
    /* IntCtl 10b: remap through the table; the index is data[10:0]. */
    index = data & (IRTE_MAX - 1);
    if (index >= 1u << tablen) {
        fault(u, out, INTC_AMDVI_IO_PAGE_FAULT, sid, index, 0, addr, ig);
        return;
    }
    size = ga ? 16 : 4;
    if (!intc__iec_lookup(u, irte_key(sid, index), &lo, &hi)) {
        uint64_t at = (dte & DTE_IRT_MASK) + (uint64_t)size * index;
        uint64_t e[2] = {0, 0};
        if (!intc__dma_read(u->m, at, e, size)) {
            fault(u, out, INTC_AMDVI_PAGE_TAB_HW_ERROR, sid, index, 0, at,
                  false);
            return;
        }
        lo = e[0];
        hi = e[1];
        intc__iec_fill(u, irte_key(sid, index), lo, hi);
    }
    if (!(lo & IRTE_REMAP_EN)) {
        fault(u, out, INTC_AMDVI_IO_PAGE_FAULT, sid, index, 0, addr,
              lo & IRTE_SUP_IOPF);
        return;
    }
    if (!ga) {
        /* 32-bit IRTE: GuestMode must be 0, bits 31:24 reserved,
           IntType 0 (fixed) or 1 (arbitrated). */
        type = (unsigned)(lo >> 2) & 7;
        if ((lo & IRTE_GUEST_MODE) || (lo & 0xff000000ull) || type > 1) {
            fault(u, out, INTC_AMDVI_IO_PAGE_FAULT, sid, index, EV_RZ, addr,
                  false);
            return;
        }
        out->dest = (uint32_t)(lo >> 8) & 0xff;
        out->vector = (uint8_t)(lo >> 16);
    } else {
        uint32_t dest = (uint32_t)(lo >> 8) & 0xffffff;
        dest |= (uint32_t)(hi >> 56) << 24;
        if (!xt)
            dest &= 0xff; /* Destination[7:0] without XTEn */
        if (hi & IRTE_GA_RSVD_HI) {
            fault(u, out, INTC_AMDVI_IO_PAGE_FAULT, sid, index, EV_RZ, addr,
                  false);
            return;
        }
        if (lo & IRTE_GUEST_MODE) {
            post_guest(u, sid, index, lo, hi, dest, xt, out);
            return;
        }
        type = (unsigned)(lo >> 2) & 7;
        if (type > 1) {
            fault(u, out, INTC_AMDVI_IO_PAGE_FAULT, sid, index, EV_RZ, addr,
                  false);
            return;
        }
        out->dest = dest;
        out->vector = (uint8_t)hi;
    }
    out->remapped = true;
    out->index = index;
    out->dm = type == 1 ? INTC_DM_LOWEST : INTC_DM_FIXED;
    out->logical = lo & IRTE_DM;
    out->level = data & INTC_MSI_DATA_LEVEL;
    out->rh = false;
    out->x2apic = xt;
}

static void amdvi_set_table(intc_iommu *u, uint64_t devtab, bool en, bool cfi)
{
    (void)cfi; /* VT-d only */
    struct intc_amdvi *a = A(u);
    a->devtab = devtab & DEVTAB_MASK;
    a->control = en ? a->control | CTL_IOMMU_EN : a->control & ~CTL_IOMMU_EN;
}

/* ---- command buffer (2.4) ---- */

static void invalidated(intc_iommu *u, uint64_t data, uint64_t data2)
{
    if (intc__tracing(u->m))
        intc__emit_unit(u->m, INTC_EV_IR_INVALIDATE, INTC_NO_CPU, -1, 0, 0,
                       data, data2);
}

/* Execute one command.  Returns the event code that stops processing
   (ILLEGAL_COMMAND_ERROR, COMMAND_HARDWARE_ERROR), or 0. */
static unsigned exec_command(intc_iommu *u, const uint64_t c[2])
{
    struct intc_amdvi *a = A(u);
    unsigned op = (unsigned)(c[0] >> 60);
    uint16_t devid = (uint16_t)c[0];

    switch (op) {
    case CMD_COMPLETION_WAIT:
        /* 2.4.1: S bit 0 (store), I bit 1 (interrupt), F bit 2 (flush);
           store address 51:3; bits 59:52 reserved. */
        if (c[0] & 0x0ff0000000000000ull)
            return INTC_AMDVI_ILLEGAL_COMMAND;
        if ((c[0] & 1) &&
            !intc__dma_write(u->m, c[0] & 0x000ffffffffffff8ull, &c[1], 8))
            return INTC_AMDVI_CMD_HW_ERROR;
        if (c[0] & 2)
            raise_status(u, ST_COMWAIT_INT,
                         a->control & CTL_COMWAIT_INT_EN);
        return 0;
    case CMD_INV_DEVTAB_ENTRY:
    case CMD_INV_INTERRUPT_TABLE:
        /* 2.4.2, 2.4.5: DeviceID 15:0, everything else reserved. */
        if ((c[0] & 0x0fffffffffff0000ull) || c[1])
            return INTC_AMDVI_ILLEGAL_COMMAND;
        if (op == CMD_INV_DEVTAB_ENTRY) /* the DTE and its table */
            intc__iec_drop(u, (uint64_t)devid << 16, 0x10000);
        else
            intc__iec_drop(u, (uint64_t)devid << 16, IRTE_MAX);
        invalidated(u, devid, op);
        return 0;
    case CMD_INV_IOMMU_PAGES:
    case CMD_INV_IOTLB_PAGES:
        return 0; /* DMA translation is not modelled */
    case CMD_INV_IOMMU_ALL:
        /* 2.4.8 (EFR.IASup): no operands. */
        if ((c[0] & 0x0fffffffffffffffull) || c[1])
            return INTC_AMDVI_ILLEGAL_COMMAND;
        intc__iec_drop(u, 0, UINT64_MAX);
        invalidated(u, 0, INTC_IOMMU_INV_ALL);
        return 0;
    default:
        /* PREFETCH_IOMMU_PAGES and COMPLETE_PPR_REQUEST need PreFSup and
           PPRSup, which this IOMMU does not report. */
        return INTC_AMDVI_ILLEGAL_COMMAND;
    }
}

/*
 * Fetch and execute commands from head to tail while CmdBufEn and
 * CmdBufRun.  An illegal command (or a failed access) is logged with its
 * address, stops processing (CmdBufRun = 0) and leaves head on it.
 * Bounded by the buffer size.
 */
static void process_commands(intc_iommu *u)
{
    struct intc_amdvi *a = A(u);
    uint32_t n = ring_entries(a->cmdbuf);
    uint64_t base = a->cmdbuf & ADDR_51_12;
    uint32_t head = (uint32_t)(a->cmd_head >> 4) % n;
    uint32_t tail = (uint32_t)(a->cmd_tail >> 4) % n;

    if (!(a->control & CTL_CMDBUF_EN) || !(a->status & ST_CMDBUF_RUN))
        return;
    for (uint32_t i = 0; head != tail && i < n; i++) {
        uint64_t at = base + 16ull * head, c[2];
        unsigned err = intc__dma_read(u->m, at, c, sizeof(c))
                           ? exec_command(u, c)
                           : INTC_AMDVI_CMD_HW_ERROR;
        if (err) {
            a->cmd_head = (uint64_t)head << 4;
            a->status &= ~ST_CMDBUF_RUN;
            (void)log_event(u, (uint64_t)err << 60, at);
            if (intc__tracing(u->m))
                intc__emit_unit(u->m, INTC_EV_IR_QUEUE_ERROR, INTC_NO_CPU, -1,
                               0, 0, a->cmd_head, a->cmd_tail);
            return;
        }
        head = (head + 1) % n;
        a->cmd_head = (uint64_t)head << 4;
    }
}

/* ---- registers (3.4) ---- */

static void control_write(intc_iommu *u, uint64_t val, uint64_t wmask)
{
    struct intc_amdvi *a = A(u);
    uint64_t old = a->control;
    uint64_t now = ((old & ~wmask) | (val & wmask)) & control_writable(u);
    uint64_t set = val & wmask; /* bits written as 1 */

    a->control = now;
    /* The IRTE format changed: cached entries are of the other size. */
    if ((old ^ now) & CTL_GA_EN)
        intc__iec_drop(u, 0, UINT64_MAX);
    /* Writing EventLogEn = 1 (re)starts logging unless EventOverflow is
       still set (3.4.12). */
    if (!(now & CTL_EVT_LOG_EN))
        a->status &= ~ST_EVT_LOG_RUN;
    else if ((set & CTL_EVT_LOG_EN) && !(a->status & ST_EVT_OVERFLOW))
        a->status |= ST_EVT_LOG_RUN;
    /* Writing CmdBufEn = 1 (re)starts fetching at head. */
    if (!(now & CTL_CMDBUF_EN))
        a->status &= ~ST_CMDBUF_RUN;
    else if (set & CTL_CMDBUF_EN)
        a->status |= ST_CMDBUF_RUN;
    if (intc__tracing(u->m))
        intc__emit_unit(u->m, INTC_EV_IR_STATUS, INTC_NO_CPU, -1, 0,
                       INTC_AMDVI_CONTROL, now, val);
    process_commands(u);
}

/* The 64-bit register at aligned offset off, or false if none. */
static bool amdvi_reg_get(intc_iommu *u, uint32_t off, uint64_t *val)
{
    struct intc_amdvi *a = A(u);
    switch (off) {
    case INTC_AMDVI_DEVTAB:
        *val = a->devtab;
        return true;
    case INTC_AMDVI_CMDBUF:
        *val = a->cmdbuf;
        return true;
    case INTC_AMDVI_EVTLOG:
        *val = a->evtlog;
        return true;
    case INTC_AMDVI_CONTROL:
        *val = a->control;
        return true;
    case INTC_AMDVI_EXCL_BASE:
        *val = a->excl_base;
        return true;
    case INTC_AMDVI_EXCL_LIMIT:
        *val = a->excl_limit;
        return true;
    case INTC_AMDVI_EFR:
        *val = efr_value(u);
        return true;
    case INTC_AMDVI_CMD_HEAD:
        *val = a->cmd_head;
        return true;
    case INTC_AMDVI_CMD_TAIL:
        *val = a->cmd_tail;
        return true;
    case INTC_AMDVI_EVT_HEAD:
        *val = a->evt_head;
        return true;
    case INTC_AMDVI_EVT_TAIL:
        *val = a->evt_tail;
        return true;
    case INTC_AMDVI_STATUS:
        *val = a->status;
        return true;
    default:
        return false;
    }
}

/* Merge the written bytes of a read/write register. */
static inline uint64_t merge(uint64_t old, uint64_t val, uint64_t wmask,
                             uint64_t rw)
{
    return (old & ~(wmask & rw)) | (val & wmask & rw);
}

static intc_err amdvi_mmio_write(intc_iommu *u, uint32_t off, unsigned size,
                               uint64_t val)
{
    struct intc_amdvi *a = A(u);
    uint32_t reg = off & ~7u;
    uint64_t wmask = size == 8 ? UINT64_MAX : 0xffffffffull << (8 * (off & 4));

    if (size == 4)
        val = (val & 0xffffffffull) << (8 * (off & 4));
    switch (reg) {
    case INTC_AMDVI_DEVTAB:
        a->devtab = merge(a->devtab, val, wmask, DEVTAB_MASK);
        break;
    case INTC_AMDVI_CMDBUF:
        a->cmdbuf = merge(a->cmdbuf, val, wmask, RING_MASK);
        break;
    case INTC_AMDVI_EVTLOG:
        a->evtlog = merge(a->evtlog, val, wmask, RING_MASK);
        break;
    case INTC_AMDVI_CONTROL:
        control_write(u, val, wmask);
        break;
    case INTC_AMDVI_EXCL_BASE:
        a->excl_base = merge(a->excl_base, val, wmask, EXCL_BASE_MASK);
        break;
    case INTC_AMDVI_EXCL_LIMIT:
        a->excl_limit = merge(a->excl_limit, val, wmask, ADDR_51_12);
        break;
    case INTC_AMDVI_CMD_HEAD:
        a->cmd_head = merge(a->cmd_head, val, wmask, PTR_MASK);
        break;
    case INTC_AMDVI_CMD_TAIL:
        /* Writing the tail makes the IOMMU fetch (2.4). */
        a->cmd_tail = merge(a->cmd_tail, val, wmask, PTR_MASK);
        process_commands(u);
        break;
    case INTC_AMDVI_EVT_HEAD:
        a->evt_head = merge(a->evt_head, val, wmask, PTR_MASK);
        break;
    case INTC_AMDVI_EVT_TAIL:
        a->evt_tail = merge(a->evt_tail, val, wmask, PTR_MASK);
        break;
    case INTC_AMDVI_STATUS:
        a->status &= ~(val & wmask & ST_RW1C);
        break;
    default:
        break; /* the EFR and absent registers are read-only */
    }
    return INTC_OK;
}

/* ---- snapshot section ---- */

/* Stored bits of the 64-bit register at off, for snapshot validation
   (the masks the write path applies); 0 for a register with no state. */
static uint64_t snap_reg_mask(const intc_iommu *u, uint32_t off)
{
    switch (off) {
    case INTC_AMDVI_DEVTAB:
        return DEVTAB_MASK;
    case INTC_AMDVI_CMDBUF:
    case INTC_AMDVI_EVTLOG:
        return RING_MASK;
    case INTC_AMDVI_CONTROL:
        return control_writable(u);
    case INTC_AMDVI_EXCL_BASE:
        return EXCL_BASE_MASK;
    case INTC_AMDVI_EXCL_LIMIT:
        return ADDR_51_12;
    case INTC_AMDVI_CMD_HEAD:
    case INTC_AMDVI_CMD_TAIL:
    case INTC_AMDVI_EVT_HEAD:
    case INTC_AMDVI_EVT_TAIL:
        return PTR_MASK;
    case INTC_AMDVI_STATUS:
        return ST_RW1C | ST_EVT_LOG_RUN | ST_CMDBUF_RUN;
    default:
        return 0;
    }
}

/* ---- the remap stage's table (iommu_priv.h) ---- */

static void amdvi_invalidate(intc_iommu *u, uint32_t index,
                             unsigned index_mask)
{
    /* INVALIDATE_INTERRUPT_TABLE names a device: its whole table (keys
       device << 16 | index). */
    (void)index_mask;
    intc__iec_drop(u, (uint64_t)(index & 0xffff) << 16, 0x10000);
}

const struct intc_iommu_ops intc__amdvi_ops = {
    .mmio_span = 0x4000,
    .reset = amdvi_reset,
    .enabled = amdvi_enabled,
    .reg_get = amdvi_reg_get,
    .mmio_write = amdvi_mmio_write,
    .remap = amdvi_remap,
    .set_table = amdvi_set_table,
    .invalidate = amdvi_invalidate,
};

#define SNAP_AMD(c, mode, u, field, off)                                    \
    INTC__SNAP(c, mode, (u)->amd.field, snap_reg_mask(u, off), #field, -1)

INTC__SNAP_INLINE void amdvi_snap(intc__snap *c, const int mode,
                                  intc_iommu *u)
{
    intc__snap_begin(c, mode, "amdvi", -1);
    SNAP_AMD(c, mode, u, devtab, INTC_AMDVI_DEVTAB);
    SNAP_AMD(c, mode, u, cmdbuf, INTC_AMDVI_CMDBUF);
    SNAP_AMD(c, mode, u, evtlog, INTC_AMDVI_EVTLOG);
    SNAP_AMD(c, mode, u, control, INTC_AMDVI_CONTROL);
    SNAP_AMD(c, mode, u, cmd_head, INTC_AMDVI_CMD_HEAD);
    SNAP_AMD(c, mode, u, cmd_tail, INTC_AMDVI_CMD_TAIL);
    SNAP_AMD(c, mode, u, evt_head, INTC_AMDVI_EVT_HEAD);
    SNAP_AMD(c, mode, u, evt_tail, INTC_AMDVI_EVT_TAIL);
    SNAP_AMD(c, mode, u, status, INTC_AMDVI_STATUS);
    SNAP_AMD(c, mode, u, excl_base, INTC_AMDVI_EXCL_BASE);
    SNAP_AMD(c, mode, u, excl_limit, INTC_AMDVI_EXCL_LIMIT);
    /* Derived: the pipeline's remap stage follows the enable bit. */
    if (mode == INTC__SNAP_LOAD)
        intc__iommu_sync(u);
}

/* The AMD-Vi registers' section of the image (after the entry cache,
   iommu.c).  LOAD installs or removes the remap stage. */
void intc__amdvi_snap(intc__snap *c, intc_iommu *u)
{
    INTC__SNAP_DISPATCH(c, amdvi_snap, u);
}
