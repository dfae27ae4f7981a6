/*
 * The guest test kernel's framework: port and MSR access, the Local APIC
 * in either mode, per-CPU state, interrupt handlers, calls run on
 * another CPU, time, PCI configuration space, and the test table.
 *
 * Section numbers "SDM x.y" are from the Intel SDM volume 3A as numbered
 * since its 2022 editions (the APIC is chapter 11; chapter 10 in older
 * editions); "82093AA" is the I/O APIC datasheet (order 290566-001).
 */
#ifndef GUEST_KERNEL_H
#define GUEST_KERNEL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_CPUS 8
#define STACK_SIZE 16384
#define TRAMP_BASE 0x8000u

/* ---- port I/O, MSRs, CPUID, TSC ------------------------------------- */

static inline void outb(uint16_t p, uint8_t v) { __asm__ volatile("out dx, al" :: "a"(v), "d"(p)); }
static inline void outl(uint16_t p, uint32_t v) { __asm__ volatile("out dx, eax" :: "a"(v), "d"(p)); }
static inline uint8_t inb(uint16_t p) { uint8_t v; __asm__ volatile("in al, dx" : "=a"(v) : "d"(p)); return v; }
static inline uint32_t inl(uint16_t p) { uint32_t v; __asm__ volatile("in eax, dx" : "=a"(v) : "d"(p)); return v; }

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
    return (uint64_t)hi << 32 | lo;
}

static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void pause(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }
static inline void mfence(void) { __asm__ volatile("mfence" ::: "memory"); }
/* STI; HLT: the interrupt shadow of STI covers HLT, so an interrupt that
   became pending before cannot be missed (SDM vol. 2 STI). */
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }

static inline uint64_t read_cr8(void) { uint64_t v; __asm__ volatile("mov %0, cr8" : "=r"(v)); return v; }
static inline void write_cr8(uint64_t v) { __asm__ volatile("mov cr8, %0" :: "r"(v) : "memory"); }

static inline uint32_t mmio_read32(uintptr_t a) { return *(volatile uint32_t *)a; }
static inline void mmio_write32(uintptr_t a, uint32_t v) { *(volatile uint32_t *)a = v; }

#define MSR_APIC_BASE 0x1b
#define APIC_BASE_BSP (1u << 8)
#define APIC_BASE_EXTD (1u << 10)
#define APIC_BASE_EN (1u << 11)
#define MSR_TSC_DEADLINE 0x6e0

/* ---- the Local APIC (SDM 11.4.1 table 11-1, 11.12.1.2 table 11-6) ---- */

#define LAPIC_PHYS 0xfee00000u
#define APIC_ID 0x020
#define APIC_VER 0x030
#define APIC_TPR 0x080
#define APIC_APR 0x090
#define APIC_PPR 0x0a0
#define APIC_EOI 0x0b0
#define APIC_LDR 0x0d0
#define APIC_DFR 0x0e0
#define APIC_SVR 0x0f0
#define APIC_ISR 0x100
#define APIC_TMR 0x180
#define APIC_IRR 0x200
#define APIC_ESR 0x280
#define APIC_ICR 0x300
#define APIC_ICR2 0x310
#define APIC_LVT_TIMER 0x320
#define APIC_LVT_THERMAL 0x330
#define APIC_LVT_PERF 0x340
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_LVT_ERROR 0x370
#define APIC_TMICT 0x380
#define APIC_TMCCT 0x390
#define APIC_TDCR 0x3e0
#define APIC_SELF_IPI 0x3f0 /* x2APIC only (MSR 0x83f) */

#define X2APIC_MSR(off) (0x800u + ((off) >> 4))

#define LVT_MASKED (1u << 16)
#define LVT_TIMER_ONESHOT (0u << 17)
#define LVT_TIMER_PERIODIC (1u << 17)
#define LVT_TIMER_TSCDL (2u << 17)

/* ICR low word (SDM 11.6.1, figure 11-12). */
#define ICR_FIXED (0u << 8)
#define ICR_LOWEST (1u << 8)
#define ICR_SMI (2u << 8)
#define ICR_NMI (4u << 8)
#define ICR_INIT (5u << 8)
#define ICR_STARTUP (6u << 8)
#define ICR_LOGICAL (1u << 11)
#define ICR_BUSY (1u << 12)
#define ICR_ASSERT (1u << 14)
#define ICR_LEVEL (1u << 15)
#define ICR_SELF (1u << 18)
#define ICR_ALL (2u << 18)
#define ICR_OTHERS (3u << 18)

/* ESR bits (SDM 11.5.3, figure 11-9). */
#define ESR_SEND_ILLEGAL (1u << 5)
#define ESR_RECV_ILLEGAL (1u << 6)
#define ESR_ILLEGAL_REG (1u << 7)

/* Vectors the framework owns. */
#define VEC_KICK 0xf0  /* wakes an AP for a remote call */
#define VEC_ERROR 0xfe /* LVT error */
#define VEC_SPURIOUS 0xff

/* ---- per-CPU state --------------------------------------------------- */

struct frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

typedef int (*remote_fn)(void *arg);

struct cpu {
    uint32_t index;
    uint32_t apic_id;
    volatile bool online;
    volatile bool x2;            /* this CPU's APIC is in x2APIC mode */
    volatile uint32_t cnt[256];  /* interrupts taken, by vector */
    volatile uint32_t order[32]; /* vectors >= 32 in the order taken */
    volatile uint32_t norder;
    volatile uint32_t nmi;
    volatile uint32_t gp;        /* expected #GPs taken (gp_expect) */
    volatile bool gp_expect;
    volatile uint64_t isr_tsc;   /* TSC at the last test interrupt */
    /* A call posted by the BSP (run_on). */
    remote_fn volatile fn;
    void *volatile arg;
    volatile uint32_t seq, done;
    volatile int result;
    unsigned nfail; /* soft failures noted (EXPECT) */
    char reason[480];
};

extern struct cpu cpus[MAX_CPUS];
extern unsigned ncpus;      /* CPUs online, BSP included */
extern unsigned ncpus_want; /* the runner's ncpu= (default 4) */
extern uint64_t tsc_khz;

/* The CPU running this code, from its stack (boot.S: stacks). */
struct cpu *this_cpu(void);

/* Local APIC access in the current CPU's mode: MMIO at 0xfee00000
   (xAPIC) or MSR 0x800 + offset / 16 (x2APIC, SDM 11.12.1.2). */
uint32_t apic_read(uint32_t off);
void apic_write(uint32_t off, uint32_t v);
void apic_eoi(void);
/* Send an IPI: dest = APIC ID (8 bits xAPIC, 32 bits x2APIC), lo = ICR
   bits 31:0.  xAPIC: ICR2 then ICR, then waits for delivery status idle
   (11.6.1); returns false if it stayed busy for 100 ms. */
bool send_ipi(uint32_t dest, uint32_t lo);
bool apic_irr(unsigned v);
bool apic_isr(unsigned v);
bool apic_tmr(unsigned v);
uint32_t cpu_by_apic_id(uint32_t id); /* index, or MAX_CPUS */

/* Interrupt handlers: handlers[v] runs for vector v (>= 32, and 2); a
   NULL entry counts the vector and EOIs (spurious 0xff: counted only). */
typedef void (*handler_fn)(struct frame *f, struct cpu *c);
extern handler_fn volatile handlers[256];
void count_and_eoi(struct frame *f, struct cpu *c);
void reset_counts(void); /* every CPU's cnt/order/nmi/gp */
/* Point IDT gate v (64-bit interrupt gate, DPL 0) at fn instead of the
   common stub; every CPU loads the one IDT, so all see the change.  For
   bench.c's handlers, which bypass isr_c. */
void idt_set(unsigned v, uintptr_t fn);

/* Run fn(arg) on CPU index i (the BSP runs it directly); waits up to
   timeout_ms for it.  Returns its result; RES_FAIL with "cpu i: call
   timed out" on a timeout.  The AP wakes by a fixed IPI VEC_KICK. */
int run_on(unsigned i, remote_fn fn, void *arg, unsigned timeout_ms);
/* Post without waiting; wait_on collects. */
void post_on(unsigned i, remote_fn fn, void *arg);
int wait_on(unsigned i, unsigned timeout_ms);

/* ---- time ------------------------------------------------------------ */

void delay_us(uint64_t us);
static inline void delay_ms(uint64_t ms) { delay_us(ms * 1000); }
uint64_t ms_to_tsc(uint64_t ms);
/* Spin (IF unchanged) until *p >= v or ms elapse; true if reached. */
bool wait_ge(volatile uint32_t *p, uint32_t v, unsigned ms);

/* ---- console, results --------------------------------------------------- */

void putc_serial(char c);
void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vsnprintk(char *buf, size_t n, const char *fmt, va_list ap);
int snprintk(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void qemu_exit(uint32_t code) __attribute__((noreturn));

enum { RES_PASS = 0, RES_FAIL = 1, RES_SKIP = 2 };
/* Record the reason in this CPU's reason buffer; return RES_FAIL/SKIP. */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond))                                                        \
            return fail(__VA_ARGS__);                                       \
    } while (0)
/* Soft checks: note the failure (appended to the reason) and go on, so
   one run reports every property that does not hold; soft_result()
   returns RES_FAIL if any was noted. */
void note_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int soft_result(void);
#define EXPECT(cond, ...)                                                   \
    do {                                                                    \
        if (!(cond))                                                        \
            note_fail(__VA_ARGS__);                                         \
    } while (0)
#define TRY(expr)                                                           \
    do {                                                                    \
        int r_ = (expr);                                                    \
        if (r_ != RES_PASS)                                                 \
            return r_;                                                      \
    } while (0)

/* Features the runner asked QEMU for (cmdline require=x2apic,tscdl): a
   missing CPUID bit is then a FAIL, otherwise a SKIP. */
extern bool require_x2apic, require_tscdl;
int need_feature(bool present, bool required, const char *what);
bool has_x2apic(void);
bool has_tscdl(void);

/* ---- PCI (configuration mechanism #1, ports 0xcf8/0xcfc) --------------- */

uint32_t pci_read32(unsigned bdf, unsigned off);
void pci_write32(unsigned bdf, unsigned off, uint32_t v);
uint16_t pci_read16(unsigned bdf, unsigned off);
void pci_write16(unsigned bdf, unsigned off, uint16_t v);
int pci_find(uint16_t vendor, uint16_t device); /* bdf or -1 */
unsigned pci_find_cap(unsigned bdf, uint8_t id); /* offset or 0 */
uint64_t pci_bar(unsigned bdf, unsigned n);    /* memory BAR base */

/* ---- I/O APIC (82093AA 3.0, 3.2.4) ---------------------------------- */

#define IOAPIC_PHYS 0xfec00000u
#define RTE_LEVEL (1u << 15)
#define RTE_REMOTE_IRR (1u << 14)
#define RTE_ACTIVE_LOW (1u << 13)
#define RTE_PENDING (1u << 12)
#define RTE_LOGICAL (1u << 11)
#define RTE_MASKED (1u << 16)
uint32_t ioapic_read(unsigned reg);
void ioapic_write(unsigned reg, uint32_t v);
void ioapic_set_rte(unsigned pin, uint32_t lo, uint8_t dest);
uint32_t ioapic_rte_lo(unsigned pin);

/* pc-testdev (QEMU hw/misc/pc-testdev.c): a byte written to port
   0x2000 + n sets ISA IRQ line n to (value != 0). */
static inline void isa_line(unsigned irq, int level) { outb((uint16_t)(0x2000 + irq), level ? 1 : 0); }

/* ---- the tests ----------------------------------------------------------- */

struct test {
    const char *name;
    int (*fn)(void);
};
/* Each tests file's table ends with {0, 0}; tests.c lists the tables. */
extern const struct test *const test_groups[];
/* bench.c's loops (bench_*): found by test=NAME, not listed by
   test=list; bench/qemu_cost.sh runs them. */
extern const struct test bench_entries[];

/* The multiboot command line, and the value of "key=" in it. */
extern const char *cmdline;
bool cmdline_get(const char *cl, const char *key, char *out, size_t n);
/* key=DECIMAL as a number; dflt if absent or not a number. */
unsigned long cmdline_uint(const char *key, unsigned long dflt);

/* Helpers shared by the tests. */
void set_tpr_all(const uint8_t *tpr); /* TPR of CPU i = tpr[i] */
int set_logical_flat(void);           /* DFR flat, LDR bit i for CPU i */
int x2apic_enable_all(void);          /* every CPU to x2APIC mode */

#endif
