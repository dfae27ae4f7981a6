/*
 * Wild firmware: guest input never crashes the library.  Each seed makes
 * a 16 KiB image of random bytes salted with system instructions (LGDT,
 * LIDT, LTR, MOV CR0/CR3/CR4, MOV SS/DS, IRET(Q), INT n, INT1, INT3,
 * WRMSR/RDMSR/RDTSC, CPUID, STI, HLT, POPF, far jumps, UD2) and runs it
 * on a 2-CPU machine to an instruction budget.  Whatever the code does
 * (mode switches, garbage descriptor tables and page tables, faults
 * during delivery, task switches, virtual-8086 mode), the run must end
 * with one of the documented stop reasons and the machine must still be
 * queryable and freed; under ASan+UBSan any memory error aborts.
 * Usage: test_uc_wild [first-seed count]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intc/uc.h"

#define IMAGE 0x4000u

static uint64_t next(uint64_t *s)
{
    /* xorshift64*: a fixed, portable sequence per seed */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

/* Random bytes salted with system instructions, from img[at] on. */
static void random_code(uint64_t *s, uint8_t *img, size_t at, size_t end)
{
    static const uint8_t pieces[][4] = {
        {3, 0x0f, 0x01, 0x10}, {3, 0x0f, 0x01, 0x18}, {3, 0x0f, 0x00, 0xd8},
        {3, 0x0f, 0x22, 0xc0}, {3, 0x0f, 0x22, 0xd8}, {3, 0x0f, 0x22, 0xe0},
        {2, 0x8e, 0xd0},       {2, 0x8e, 0xd8},       {1, 0xcf},
        {2, 0x48, 0xcf},       {2, 0x66, 0xcf},       {1, 0xcd},
        {1, 0xf1},             {1, 0xcc},             {2, 0x0f, 0x30},
        {2, 0x0f, 0x32},       {2, 0x0f, 0x31},       {2, 0x0f, 0xa2},
        {1, 0xfb},             {1, 0xf4},             {1, 0x9d},
        {1, 0xea},             {2, 0x0f, 0x0b},       {3, 0x0f, 0x20, 0xc0}};
    while (at < end - 4) {
        uint64_t r = next(s);
        if ((r & 3) == 0) {
            const uint8_t *p = pieces[(r >> 8) % (sizeof pieces / 4)];
            memcpy(img + at, p + 1, p[0]);
            at += p[0];
        } else {
            img[at++] = (uint8_t)(r >> 16);
        }
    }
}

static void put(uint8_t *img, size_t at, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        img[at + i] = (uint8_t)(v >> (8 * i));
}

/* Image layout (loaded at BASE, the entry): a prologue that loads the
   GDT, IDT and TSS below, sets the data segments and a stack, arms the
   LAPIC timer (periodic, a random count, vector 0x40), far-returns to
   reload CS, enables interrupts and falls into random code.  The tables
   are plausible but salted: each IDT gate points into the random code
   with a random type, DPL, IST and present bit now and then; the TSS's
   RSP0 and IST pointers are random in RAM or not.  So delivery is
   exercised, not only the triple fault of an empty IDT. */
#define BASE 0x10000u
#define O_PTRS 0x200u
#define O_GDT 0x300u
#define O_TSS 0x400u
#define O_IDT 0x1000u
#define O_CODE 0x2000u

static size_t prologue(uint8_t *img, uint64_t *s)
{
    static const uint8_t code[] = {
        0x0f, 0x01, 0x14, 0x25, 0, 0, 0, 0,       /* lgdt [BASE+O_PTRS] */
        0x0f, 0x01, 0x1c, 0x25, 0, 0, 0, 0,       /* lidt [... + 10] */
        0x66, 0xb8, 0x18, 0x00, 0x0f, 0x00, 0xd8, /* mov ax, 0x18; ltr ax */
        0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0,
        0x48, 0xc7, 0xc4, 0x00, 0x80, 0x00, 0x00, /* mov rsp, 0x8000 */
        0xbb, 0x00, 0x00, 0xe0, 0xfe,             /* mov ebx, LAPIC */
        0xc7, 0x83, 0xf0, 0, 0, 0, 0xff, 0x01, 0, 0,    /* SVR */
        0xc7, 0x83, 0xe0, 0x03, 0, 0, 0x0b, 0, 0, 0,    /* TDCR: /1 */
        0xc7, 0x83, 0x20, 0x03, 0, 0, 0x40, 0, 0x02, 0, /* LVT: 0x40 */
        0xc7, 0x83, 0x80, 0x03, 0, 0, 0, 0, 0, 0,       /* TMICT */
        0x6a, 0x08, 0x68, 0, 0, 0, 0,             /* push 8; push code */
        0x48, 0xcb};                              /* retfq */
    size_t n = sizeof code;
    _Static_assert(sizeof code == 94, "offsets 81 and 88 below");
    memcpy(img, code, n);
    put(img, 4, BASE + O_PTRS, 4);
    put(img, 12, BASE + O_PTRS + 10, 4);
    put(img, 81, 200 + next(s) % 4000, 4); /* TMICT */
    put(img, 88, BASE + n, 4);              /* the far return's RIP */
    img[n++] = 0xfb; /* sti */
    img[n++] = 0xe9; /* jmp rel32 to the random code */
    put(img, n, O_CODE - (n + 4), 4);
    return n + 4;
}

static void tables(uint8_t *img, uint64_t *s)
{
    static const uint64_t gdt[5] = {
        0, 0x00af9a000000ffffull, 0x00cf92000000ffffull, 0, 0};
    memcpy(img + O_GDT, gdt, sizeof gdt);
    put(img, O_GDT + 0x18, 0x67 | (uint64_t)(BASE + O_TSS) << 16, 5);
    img[O_GDT + 0x1d] = 0x89; /* 64-bit TSS, present */
    for (unsigned i = 5; i < 8; i++) /* salt */
        put(img, O_GDT + 8 * i, next(s), 8);
    put(img, O_PTRS, 8 * 8 - 1, 2);
    put(img, O_PTRS + 2, BASE + O_GDT, 8);
    put(img, O_PTRS + 10, 256 * 16 - 1, 2);
    put(img, O_PTRS + 12, BASE + O_IDT, 8);
    for (unsigned i = 0; i < 8; i++) { /* RSP0-2, IST1-7 */
        uint64_t r = next(s);
        uint64_t sp = (r & 3) ? 0x9000 + (r >> 8) % 0x6000 : next(s);
        put(img, O_TSS + (i < 3 ? 4 + 8 * i : 0x24 + 8 * (i - 3)), sp, 8);
    }
    for (unsigned v = 0; v < 256; v++) {
        uint64_t r = next(s);
        uint64_t target = BASE + O_CODE + (r >> 20) % 0x1f00;
        uint8_t type = (r & 15) ? 0x8e | (uint8_t)(r >> 4 & 1) /* 0xE/F */
                                : (uint8_t)(r >> 8);
        uint16_t sel = (r & 0x70) ? 0x08 : (uint16_t)(r >> 24);
        size_t g = O_IDT + 16 * (size_t)v;
        put(img, g, target & 0xffff, 2);
        put(img, g + 2, sel, 2);
        img[g + 4] = (r & 0x300) ? 0 : (uint8_t)(r >> 40) & 7; /* IST */
        img[g + 5] = type | ((r >> 44) & 1 ? 0x60 : 0);        /* DPL */
        put(img, g + 6, (target >> 16) & 0xffff, 2);
        put(img, g + 8, target >> 32, 4);
    }
}

static size_t make_image(uint64_t seed, uint8_t *img)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    memset(img, 0, IMAGE);
    (void)prologue(img, &s);
    tables(img, &s);
    random_code(&s, img, O_CODE, IMAGE);
    /* Unicorn 2.0.1 aborts the process while translating FF /3 or FF /5
       with a register operand (an invalid far CALL or JMP): tcg.c:3073,
       "tcg fatal error", on a bare engine too (uc.h).  That is not this
       library's to survive; keep such bytes out. */
    for (size_t i = O_CODE; i + 1 < IMAGE; i++)
        if (img[i] == 0xff && (img[i + 1] & 0xc0) == 0xc0 &&
            ((img[i + 1] >> 3 & 7) == 3 || (img[i + 1] >> 3 & 7) == 5))
            img[i] = 0x90;
    return IMAGE;
}

static int run_seed(uint64_t seed, unsigned long long *by_reason,
                    unsigned long long *delivered)
{
    static uint8_t img[IMAGE];
    intc_uc_config cfg;
    intc_uc_config_init(&cfg);
    cfg.n_cpus = 2;
    intc_err err = INTC_OK;
    intc_uc *m = intc_uc_new(&cfg, &err);
    if (!m) {
        fprintf(stderr, "seed %llu: intc_uc_new: %d\n",
                (unsigned long long)seed, (int)err);
        return 1;
    }
    size_t n = make_image(seed, img);
    const char *dump = getenv("UC_WILD_DUMP"); /* the image, to study */
    FILE *df = dump ? fopen(dump, "wb") : NULL;
    if (df) {
        fwrite(img, 1, n, df);
        fclose(df);
    }
    intc_uc_stop_info info;
    memset(&info, 0, sizeof info);
    int bad = intc_uc_load(m, cfg.entry, img, n) != INTC_OK ||
              intc_uc_run(m, 200000, 2000000, &info) != INTC_OK;
    /* Every documented reason is an acceptable end for wild code. */
    if (!bad && (info.reason == INTC_UC_STOP_NONE ||
                 !strcmp(intc_uc_stop_name(info.reason), "unknown")))
        bad = 1;
    intc_uc_cpu_info ci;
    for (uint32_t i = 0; !bad && i < 2; i++) {
        bad = intc_uc_cpu_info_get(m, i, &ci) != INTC_OK;
        *delivered += ci.delivered;
    }
    if (!bad && (unsigned)info.reason < 16)
        by_reason[info.reason]++;
    if (bad)
        fprintf(stderr, "seed %llu: bad run (stop %s)\n",
                (unsigned long long)seed, intc_uc_stop_name(info.reason));
    intc_uc_free(m);
    return bad;
}

int main(int argc, char **argv)
{
    unsigned long long first = argc > 1 ? strtoull(argv[1], NULL, 0) : 1;
    unsigned long long count = argc > 2 ? strtoull(argv[2], NULL, 0) : 60;
    int fails = 0;
    unsigned long long by_reason[16] = {0}, delivered = 0;
    for (unsigned long long s = first; s < first + count; s++)
        fails += run_seed(s, by_reason, &delivered);
    printf("stops:");
    for (unsigned r = 0; r < 16; r++)
        if (by_reason[r])
            printf(" %s %llu", intc_uc_stop_name((intc_uc_stop)r),
                   by_reason[r]);
    printf("; vectors delivered %llu\n", delivered);
    printf("%s: %llu wild images, %d bad runs\n", fails ? "FAIL" : "PASS",
           count, fails);
    return fails ? 1 : 0;
}
