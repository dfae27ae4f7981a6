/*
 * The guest test kernel's framework (kernel.h): console, IDT, the Local
 * APIC in either mode, AP bring-up by INIT-SIPI-SIPI, remote calls, TSC
 * calibration against the PIT, PCI and I/O APIC access, and kmain, which
 * runs the one test named on the command line (test=NAME) and exits
 * through isa-debug-exit.
 *
 * One test per boot keeps the tests independent: several leave the
 * machine in a state with no way back (x2APIC mode, a global APIC
 * disable), and a fabric that loses an interrupt must not take the
 * following tests with it.
 */
#include "kernel.h"

struct cpu cpus[MAX_CPUS];
unsigned ncpus = 1;
unsigned ncpus_want = 4;
uint64_t tsc_khz;
bool require_x2apic, require_tscdl;
handler_fn volatile handlers[256];

extern uint8_t stacks[];
extern uint8_t isr_stubs[];
extern uint8_t tramp_start[], tramp_end[];
extern uint32_t mb_magic, mb_info;
extern volatile uint32_t ap_ticket;

static const char *current_test = "boot";
const char *cmdline = "";

/* ---- console ------------------------------------------------------------ */

#define COM1 0x3f8
static volatile uint32_t print_lock;

static void serial_init(void)
{
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x80);
    outb(COM1 + 0, 0x01); /* 115200 */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1 */
    outb(COM1 + 2, 0xc7);
    outb(COM1 + 4, 0x03);
}

void putc_serial(char c)
{
    for (unsigned i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
        pause();
    outb(COM1, (uint8_t)c);
}

static void emit(char **p, char *end, char c)
{
    if (*p < end)
        *(*p)++ = c;
}

int vsnprintk(char *buf, size_t n, const char *fmt, va_list ap)
{
    char *p = buf, *end = buf + (n ? n - 1 : 0);
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            emit(&p, end, *fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, lng = 0;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') {
            lng++;
            fmt++;
        }
        char tmp[24];
        int len = 0;
        uint64_t u = 0;
        bool neg = false;
        switch (*fmt) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            int sl = 0;
            while (s[sl])
                sl++;
            for (int i = sl; i < width; i++)
                emit(&p, end, ' ');
            while (*s)
                emit(&p, end, *s++);
            continue;
        }
        case 'c':
            emit(&p, end, (char)va_arg(ap, int));
            continue;
        case '%':
            emit(&p, end, '%');
            continue;
        case 'd': {
            int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
            neg = v < 0;
            u = neg ? (uint64_t)-v : (uint64_t)v;
            do
                tmp[len++] = (char)('0' + u % 10);
            while (u /= 10);
            break;
        }
        case 'u':
            u = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            do
                tmp[len++] = (char)('0' + u % 10);
            while (u /= 10);
            break;
        case 'x':
        case 'p':
            u = (lng || *fmt == 'p') ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            do
                tmp[len++] = "0123456789abcdef"[u & 15];
            while (u >>= 4);
            break;
        default:
            emit(&p, end, '?');
            continue;
        }
        if (neg)
            tmp[len++] = '-';
        for (int i = len; i < width; i++)
            emit(&p, end, pad);
        while (len)
            emit(&p, end, tmp[--len]);
    }
    if (n)
        *p = 0;
    return (int)(p - buf);
}

int snprintk(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintk(buf, n, fmt, ap);
    va_end(ap);
    return r;
}

static uint64_t irq_save(void)
{
    uint64_t fl;
    __asm__ volatile("pushfq; pop %0; cli" : "=r"(fl)::"memory");
    return fl;
}

static void irq_restore(uint64_t fl)
{
    if (fl & 0x200)
        sti();
}

void printk(const char *fmt, ...)
{
    char buf[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintk(buf, sizeof buf, fmt, ap);
    va_end(ap);
    uint64_t fl = irq_save();
    for (unsigned i = 0; i < 10000000 && __atomic_exchange_n(&print_lock, 1, __ATOMIC_ACQUIRE); i++)
        pause();
    for (char *s = buf; *s; s++) {
        if (*s == '\n')
            putc_serial('\r');
        putc_serial(*s);
    }
    __atomic_store_n(&print_lock, 0, __ATOMIC_RELEASE);
    irq_restore(fl);
}

void qemu_exit(uint32_t code)
{
    /* isa-debug-exit at 0xf4: QEMU exits with status (code << 1) | 1. */
    outl(0xf4, code);
    for (;;)
        __asm__ volatile("cli; hlt");
}

static int set_reason(int res, const char *fmt, va_list ap)
{
    struct cpu *c = this_cpu();
    vsnprintk(c->reason, sizeof c->reason, fmt, ap);
    return res;
}


int skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = set_reason(RES_SKIP, fmt, ap);
    va_end(ap);
    return r;
}

static void note_vfail(const char *fmt, va_list ap)
{
    struct cpu *c = this_cpu();
    size_t l = 0;
    if (!c->nfail)
        c->reason[0] = 0;
    while (c->reason[l])
        l++;
    if (c->nfail && l + 2 < sizeof c->reason) {
        c->reason[l++] = ';';
        c->reason[l++] = ' ';
    }
    vsnprintk(c->reason + l, sizeof c->reason - l, fmt, ap);
    c->nfail++;
}

/* A hard failure: noted like the soft ones (the reason keeps every
   failure noted before it), the caller returns RES_FAIL. */
int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    note_vfail(fmt, ap);
    va_end(ap);
    return RES_FAIL;
}

void note_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    note_vfail(fmt, ap);
    va_end(ap);
}

int soft_result(void)
{
    return this_cpu()->nfail ? RES_FAIL : RES_PASS;
}

/* ---- CPUs, APIC ---------------------------------------------------------- */

struct cpu *this_cpu(void)
{
    uintptr_t sp;
    __asm__ volatile("mov %0, rsp" : "=r"(sp));
    return &cpus[(sp - (uintptr_t)stacks) / STACK_SIZE];
}

uint32_t apic_read(uint32_t off)
{
    if (this_cpu()->x2)
        return (uint32_t)rdmsr(X2APIC_MSR(off));
    return mmio_read32(LAPIC_PHYS + off);
}

void apic_write(uint32_t off, uint32_t v)
{
    if (this_cpu()->x2)
        wrmsr(X2APIC_MSR(off), v);
    else
        mmio_write32(LAPIC_PHYS + off, v);
}

void apic_eoi(void)
{
    apic_write(APIC_EOI, 0);
}

bool send_ipi(uint32_t dest, uint32_t lo)
{
    if (this_cpu()->x2) {
        /* 11.12.9: one 64-bit WRMSR, destination in bits 63:32. */
        wrmsr(X2APIC_MSR(APIC_ICR), (uint64_t)dest << 32 | lo);
        return true;
    }
    uint64_t fl = irq_save();
    mmio_write32(LAPIC_PHYS + APIC_ICR2, dest << 24);
    mmio_write32(LAPIC_PHYS + APIC_ICR, lo);
    uint64_t end = rdtsc() + ms_to_tsc(100);
    bool idle;
    while (!(idle = !(mmio_read32(LAPIC_PHYS + APIC_ICR) & ICR_BUSY)) && rdtsc() < end)
        pause();
    irq_restore(fl);
    return idle;
}

static bool apic_bit(uint32_t base, unsigned v)
{
    return apic_read(base + (v / 32) * 0x10) >> (v % 32) & 1;
}

bool apic_irr(unsigned v) { return apic_bit(APIC_IRR, v); }
bool apic_isr(unsigned v) { return apic_bit(APIC_ISR, v); }
bool apic_tmr(unsigned v) { return apic_bit(APIC_TMR, v); }

uint32_t cpu_by_apic_id(uint32_t id)
{
    for (unsigned i = 0; i < ncpus; i++)
        if (cpus[i].apic_id == id)
            return i;
    return MAX_CPUS;
}

void reset_counts(void)
{
    for (unsigned i = 0; i < MAX_CPUS; i++) {
        struct cpu *c = &cpus[i];
        for (unsigned v = 0; v < 256; v++)
            c->cnt[v] = 0;
        c->norder = 0;
        c->nmi = 0;
        c->gp = 0;
    }
    mfence();
}

bool has_x2apic(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    return r[2] >> 21 & 1;
}

bool has_tscdl(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    return r[2] >> 24 & 1;
}

int need_feature(bool present, bool required, const char *what)
{
    if (present)
        return RES_PASS;
    if (required)
        return fail("%s: CPUID bit clear although the runner asked QEMU for it", what);
    return skip("%s not offered (CPUID bit clear)", what);
}

/* ---- interrupts ---------------------------------------------------------- */

struct idt_gate {
    uint16_t off0, sel;
    uint8_t ist, type;
    uint16_t off1;
    uint32_t off2, zero;
};
static struct idt_gate idt[256] __attribute__((aligned(16)));
static struct __attribute__((packed)) {
    uint16_t limit;
    uint64_t base;
} idt_ptr;

void idt_set(unsigned v, uintptr_t fn)
{
    uint64_t a = fn;
    idt[v & 0xff] = (struct idt_gate){
        .off0 = (uint16_t)a, .sel = 0x08, .ist = 0, .type = 0x8e,
        .off1 = (uint16_t)(a >> 16), .off2 = (uint32_t)(a >> 32), .zero = 0,
    };
}

static void idt_init(void)
{
    for (unsigned v = 0; v < 256; v++)
        idt_set(v, (uintptr_t)isr_stubs + 16 * v);
    idt_ptr.limit = sizeof idt - 1;
    idt_ptr.base = (uint64_t)(uintptr_t)idt;
}

static void idt_load(void)
{
    __asm__ volatile("lidt %0" ::"m"(idt_ptr));
}

void count_and_eoi(struct frame *f, struct cpu *c)
{
    (void)f;
    (void)c;
    apic_eoi();
}

void isr_c(struct frame *f);
void isr_c(struct frame *f)
{
    struct cpu *c = this_cpu();
    unsigned v = (unsigned)f->vector;

    if (v == 2) { /* NMI: not in ISR, no EOI (11.8.4 applies to fixed) */
        c->nmi++;
        return;
    }
    if (v == 13 && c->gp_expect) {
        c->gp++;
        f->rip += 2; /* RDMSR and WRMSR are 2 bytes */
        return;
    }
    if (v == 5) {
        /* #BR cannot occur in 64-bit code (BOUND is invalid): this is an
           interrupt with an illegal vector, which a correct APIC never
           delivers (11.5.3).  Count it; it may be in ISR: EOI. */
        c->cnt[v]++;
        apic_eoi();
        return;
    }
    if (v < 32) {
        printk("FAIL %s cpu %u took exception %u (error %lx) at rip %lx\n", current_test,
               c->index, v, f->error, f->rip);
        qemu_exit(0xbadf);
    }
    if (v == VEC_SPURIOUS) { /* 11.9: not in service, no EOI */
        c->cnt[v]++;
        return;
    }
    if (v == VEC_KICK) {
        apic_eoi();
        return;
    }
    c->isr_tsc = rdtsc();
    c->order[c->norder % 32] = v;
    c->norder++;
    c->cnt[v]++;
    handler_fn h = handlers[v];
    if (h)
        h(f, c);
    else
        apic_eoi();
}

/* ---- time ---------------------------------------------------------------- */

static uint16_t pit_read0(void)
{
    outb(0x43, 0x00); /* latch channel 0 */
    uint8_t lo = inb(0x40);
    uint8_t hi = inb(0x40);
    return (uint16_t)(lo | hi << 8);
}

/* The TSC against PIT channel 0 (1.193182 MHz) in mode 2 over 50 ms,
   summing the counter's decrements between reads. */
static void calibrate_tsc(void)
{
    outb(0x43, 0x34);
    outb(0x40, 0);
    outb(0x40, 0);
    uint16_t prev = pit_read0();
    uint64_t ticks = 0, t0 = rdtsc();
    while (ticks < 59659) {
        uint16_t now = pit_read0();
        ticks += (uint16_t)(prev - now);
        prev = now;
    }
    uint64_t t1 = rdtsc();
    tsc_khz = (t1 - t0) * 1193182 / (ticks * 1000);
    if (!tsc_khz)
        tsc_khz = 1000000;
}

uint64_t ms_to_tsc(uint64_t ms) { return ms * tsc_khz; }

void delay_us(uint64_t us)
{
    uint64_t end = rdtsc() + us * tsc_khz / 1000;
    while (rdtsc() < end)
        pause();
}

bool wait_ge(volatile uint32_t *p, uint32_t v, unsigned ms)
{
    uint64_t end = rdtsc() + ms_to_tsc(ms);
    while (*p < v) {
        if (rdtsc() > end)
            return *p >= v;
        pause();
    }
    return true;
}

/* ---- remote calls -------------------------------------------------------- */

void post_on(unsigned i, remote_fn fn, void *arg)
{
    struct cpu *c = &cpus[i];
    c->fn = fn;
    c->arg = arg;
    c->reason[0] = 0;
    c->nfail = 0;
    mfence();
    c->seq++;
    mfence();
    send_ipi(c->apic_id, ICR_FIXED | VEC_KICK);
}

int wait_on(unsigned i, unsigned timeout_ms)
{
    struct cpu *c = &cpus[i];
    uint64_t end = rdtsc() + ms_to_tsc(timeout_ms);
    while (c->done != c->seq) {
        if (rdtsc() > end)
            return fail("cpu %u: remote call timed out after %u ms", i, timeout_ms);
        pause();
    }
    mfence();
    if (c->result != RES_PASS) {
        int r = c->result;
        char tmp[sizeof c->reason];
        snprintk(tmp, sizeof tmp, "cpu %u: %s", i, c->reason);
        return r == RES_FAIL ? fail("%s", tmp) : skip("%s", tmp);
    }
    return RES_PASS;
}

int run_on(unsigned i, remote_fn fn, void *arg, unsigned timeout_ms)
{
    if (&cpus[i] == this_cpu())
        return fn(arg);
    post_on(i, fn, arg);
    return wait_on(i, timeout_ms);
}

/* ---- Local APIC set-up, AP start ------------------------------------------ */

static void lapic_init(struct cpu *c)
{
    c->apic_id = mmio_read32(LAPIC_PHYS + APIC_ID) >> 24;
    apic_write(APIC_SVR, 0x100 | VEC_SPURIOUS);
    apic_write(APIC_TPR, 0);
    apic_write(APIC_LVT_LINT0, LVT_MASKED);
    apic_write(APIC_LVT_LINT1, LVT_MASKED);
    apic_write(APIC_LVT_TIMER, LVT_MASKED);
    apic_write(APIC_LVT_ERROR, LVT_MASKED | VEC_ERROR);
    apic_write(APIC_ESR, 0);
    apic_write(APIC_ESR, 0);
}

void ap_main(unsigned idx);
void ap_main(unsigned idx)
{
    struct cpu *c = &cpus[idx];
    c->index = idx;
    idt_load();
    lapic_init(c);
    mfence();
    c->online = true;
    for (;;) {
        cli();
        if (c->done != c->seq) {
            uint32_t s = c->seq;
            mfence();
            sti();
            c->result = c->fn(c->arg);
            mfence();
            c->done = s;
            continue;
        }
        sti_hlt();
    }
}

/* The universal start-up algorithm (SDM 9.4.4.1): INIT to all excluding
   self, 10 ms, STARTUP, 200 us, STARTUP, all excluding self. */
static int start_aps(void)
{
    uint8_t *dst = (uint8_t *)(uintptr_t)TRAMP_BASE;
    for (uint8_t *s = tramp_start; s < tramp_end; s++)
        *dst++ = *s;
    mfence();
    if (!send_ipi(0, ICR_INIT | ICR_ASSERT | ICR_LEVEL | ICR_OTHERS))
        return fail("INIT IPI stayed busy");
    delay_ms(10);
    for (int k = 0; k < 2; k++) {
        if (!send_ipi(0, ICR_STARTUP | ICR_OTHERS | (TRAMP_BASE >> 12)))
            return fail("STARTUP IPI stayed busy");
        delay_us(200);
    }
    uint64_t end = rdtsc() + ms_to_tsc(2000);
    unsigned online = 0;
    while (rdtsc() < end) {
        online = 0;
        for (unsigned i = 1; i < MAX_CPUS; i++)
            online += cpus[i].online;
        if (online >= ncpus_want - 1)
            break;
        pause();
    }
    ncpus = 1 + online;
    if (ncpus != ncpus_want || ap_ticket != ncpus_want - 1)
        return fail("%u CPUs online (%u reached 64-bit mode), %u expected (ncpu=)", ncpus, ap_ticket,
                    ncpus_want);
    for (unsigned i = 0; i < ncpus; i++)
        if (!cpus[i].online)
            return fail("AP index %u missing", i);
    return RES_PASS;
}

/* ---- PCI ----------------------------------------------------------------- */

uint32_t pci_read32(unsigned bdf, unsigned off)
{
    outl(0xcf8, 0x80000000u | bdf << 8 | (off & 0xfc));
    return inl(0xcfc);
}

void pci_write32(unsigned bdf, unsigned off, uint32_t v)
{
    outl(0xcf8, 0x80000000u | bdf << 8 | (off & 0xfc));
    outl(0xcfc, v);
}

uint16_t pci_read16(unsigned bdf, unsigned off)
{
    return (uint16_t)(pci_read32(bdf, off) >> ((off & 2) * 8));
}

void pci_write16(unsigned bdf, unsigned off, uint16_t v)
{
    uint32_t w = pci_read32(bdf, off);
    unsigned sh = (off & 2) * 8;
    w = (w & ~(0xffffu << sh)) | (uint32_t)v << sh;
    pci_write32(bdf, off, w);
}

int pci_find(uint16_t vendor, uint16_t device)
{
    for (unsigned bdf = 0; bdf < 256 * 8; bdf++) {
        uint32_t id = pci_read32(bdf, 0);
        if (id == ((uint32_t)device << 16 | vendor))
            return (int)bdf;
    }
    return -1;
}

unsigned pci_find_cap(unsigned bdf, uint8_t id)
{
    if (!(pci_read16(bdf, 0x06) & 0x10))
        return 0;
    unsigned p = pci_read32(bdf, 0x34) & 0xfc;
    for (int n = 0; p && n < 48; n++) {
        uint32_t w = pci_read32(bdf, p);
        if ((w & 0xff) == id)
            return p;
        p = (w >> 8) & 0xfc;
    }
    return 0;
}

uint64_t pci_bar(unsigned bdf, unsigned n)
{
    uint32_t lo = pci_read32(bdf, 0x10 + 4 * n);
    if (lo & 1)
        return 0;
    uint64_t a = lo & ~0xfu;
    if (((lo >> 1) & 3) == 2)
        a |= (uint64_t)pci_read32(bdf, 0x14 + 4 * n) << 32;
    return a;
}

/* ---- I/O APIC ------------------------------------------------------------ */

uint32_t ioapic_read(unsigned reg)
{
    mmio_write32(IOAPIC_PHYS, reg);
    return mmio_read32(IOAPIC_PHYS + 0x10);
}

void ioapic_write(unsigned reg, uint32_t v)
{
    mmio_write32(IOAPIC_PHYS, reg);
    mmio_write32(IOAPIC_PHYS + 0x10, v);
}

void ioapic_set_rte(unsigned pin, uint32_t lo, uint8_t dest)
{
    /* Mask first, then the destination, then the low word. */
    ioapic_write(0x10 + 2 * pin, RTE_MASKED);
    ioapic_write(0x11 + 2 * pin, (uint32_t)dest << 24);
    ioapic_write(0x10 + 2 * pin, lo);
}

uint32_t ioapic_rte_lo(unsigned pin)
{
    return ioapic_read(0x10 + 2 * pin);
}

/* ---- helpers shared by tests ------------------------------------------------ */

static int tpr_fn(void *arg)
{
    apic_write(APIC_TPR, (uint32_t)(uintptr_t)arg);
    return RES_PASS;
}

void set_tpr_all(const uint8_t *tpr)
{
    for (unsigned i = 0; i < ncpus; i++)
        run_on(i, tpr_fn, (void *)(uintptr_t)tpr[i], 1000);
}

static int flat_fn(void *arg)
{
    (void)arg;
    struct cpu *c = this_cpu();
    apic_write(APIC_DFR, 0xffffffffu);
    apic_write(APIC_LDR, (1u << c->index) << 24);
    /* 11.6.2.2: DFR bits 27:0 are reserved and read as 1s. */
    CHECK((apic_read(APIC_DFR) & 0x0fffffffu) == 0x0fffffffu, "DFR reads %x", apic_read(APIC_DFR));
    CHECK(apic_read(APIC_LDR) >> 24 == (1u << c->index), "LDR reads %x after writing %x",
          apic_read(APIC_LDR), (1u << c->index) << 24);
    return RES_PASS;
}

int set_logical_flat(void)
{
    for (unsigned i = 0; i < ncpus; i++)
        TRY(run_on(i, flat_fn, 0, 1000));
    return RES_PASS;
}

/* ---- kmain ------------------------------------------------------------------ */

static bool streq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

/* Copy the value of "key=" from the command line into out; true if found. */
bool cmdline_get(const char *cl, const char *key, char *out, size_t n)
{
    size_t kl = 0;
    while (key[kl])
        kl++;
    for (const char *p = cl; p && *p;) {
        while (*p == ' ')
            p++;
        const char *w = p;
        while (*p && *p != ' ')
            p++;
        if ((size_t)(p - w) > kl && w[kl] == '=') {
            bool match = true;
            for (size_t i = 0; i < kl; i++)
                match &= w[i] == key[i];
            if (match) {
                size_t l = 0;
                for (const char *q = w + kl + 1; q < p && l + 1 < n; q++)
                    out[l++] = *q;
                out[l] = 0;
                return true;
            }
        }
    }
    return false;
}

unsigned long cmdline_uint(const char *key, unsigned long dflt)
{
    char buf[24];
    if (!cmdline_get(cmdline, key, buf, sizeof buf) || !buf[0])
        return dflt;
    unsigned long v = 0;
    for (const char *p = buf; *p; p++) {
        if (*p < '0' || *p > '9')
            return dflt;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    return v;
}

static bool has_word(const char *list, const char *w)
{
    size_t wl = 0;
    while (w[wl])
        wl++;
    for (const char *p = list; *p;) {
        const char *s = p;
        while (*p && *p != ',')
            p++;
        if ((size_t)(p - s) == wl) {
            bool m = true;
            for (size_t i = 0; i < wl; i++)
                m &= s[i] == w[i];
            if (m)
                return true;
        }
        if (*p == ',')
            p++;
    }
    return false;
}

static void finish(const char *name, int r, const char *reason)
{
    if (r == RES_PASS)
        printk("PASS %s\n", name);
    else
        printk("%s %s %s\n", r == RES_FAIL ? "FAIL" : "SKIP", name, reason);
    qemu_exit(r == RES_FAIL ? 0xbad1 : 0x600d);
}

void kmain(uint32_t magic, uint32_t info);
void kmain(uint32_t magic, uint32_t info)
{
    struct cpu *bsp = &cpus[0];
    const char *cl = "";
    char name[48] = "", buf[64];

    serial_init();
    printk("\nlibintc guest test kernel\n");
    if (magic != 0x2badb002)
        finish("boot", RES_FAIL, "not started by a multiboot loader");
    if (*(volatile uint32_t *)(uintptr_t)info & 4)
        cl = (const char *)(uintptr_t)((volatile uint32_t *)(uintptr_t)info)[4];
    printk("cmdline: %s\n", cl);
    cmdline = cl;
    if (cmdline_get(cl, "ncpu", buf, sizeof buf)) {
        ncpus_want = 0;
        for (char *p = buf; *p >= '0' && *p <= '9'; p++)
            ncpus_want = ncpus_want * 10 + (unsigned)(*p - '0');
        if (ncpus_want < 2 || ncpus_want > MAX_CPUS)
            ncpus_want = 4;
    }
    if (cmdline_get(cl, "require", buf, sizeof buf)) {
        require_x2apic = has_word(buf, "x2apic");
        require_tscdl = has_word(buf, "tscdl");
    }
    if (!cmdline_get(cl, "test", name, sizeof name))
        snprintk(name, sizeof name, "list");
    bool list = streq(name, "list");
    const struct test *t = 0;
    for (unsigned g = 0; test_groups[g]; g++)
        for (const struct test *x = test_groups[g]; x->name; x++) {
            if (list)
                printk("TEST %s\n", x->name);
            else if (streq(name, x->name))
                t = x;
        }
    /* The benchmark loops (bench.c) run by name only: never listed, so
       neither run.sh's default run nor ctest picks them up. */
    for (const struct test *x = bench_entries; !list && !t && x->name; x++)
        if (streq(name, x->name))
            t = x;
    if (list)
        qemu_exit(0x600d);
    if (!t)
        finish(name, RES_FAIL, "no such test");
    current_test = t->name;

    /* The 8259s off (every input masked): SeaBIOS left LINT0 in ExtINT
       mode on the BSP; lapic_init masks LINT0 too. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    idt_init();
    idt_load();

    uint64_t base = rdmsr(MSR_APIC_BASE);
    if ((base & 0xfffff000u) != LAPIC_PHYS || !(base & APIC_BASE_EN) || !(base & APIC_BASE_BSP)) {
        snprintk(buf, sizeof buf, "IA32_APIC_BASE = %lx at start", base);
        finish(t->name, RES_FAIL, buf);
    }
    lapic_init(bsp);
    bsp->online = true;
    unsigned pins = (ioapic_read(1) >> 16 & 0xff) + 1;
    for (unsigned p = 0; p < pins; p++)
        ioapic_set_rte(p, RTE_MASKED, 0);
    calibrate_tsc();
    printk("TSC %u kHz\n", (unsigned)tsc_khz);
    if (start_aps() != RES_PASS)
        finish(t->name, RES_FAIL, bsp->reason);
    for (unsigned i = 0; i < ncpus; i++)
        printk("cpu %u: APIC ID %u\n", i, cpus[i].apic_id);
    sti();
    bsp->reason[0] = 0;
    int r = t->fn();
    cli();
    finish(t->name, r, bsp->reason);
}

/* The compiler may call these for structure copies and initialisers. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

void *memset(void *d, int c, size_t n)
{
    uint8_t *p = d;
    while (n--)
        *p++ = (uint8_t)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    uint8_t *p = d;
    const uint8_t *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}
