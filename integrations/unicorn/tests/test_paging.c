/*
 * test_paging.c - the page walker of libintc-uc's delivery
 * (intc_uc__walk, src/deliver.c) on hand-built paging structures in a
 * RAM image: 32-bit paging (SDM vol. 3A 4.3: 4 KiB pages, 4 MiB pages
 * with CR4.PSE, PSE-36 high bits), PAE paging (4.4: the PDPTEs at
 * CR3[31:5], 2 MiB and 4 KiB pages, no page size bit in a PDPTE) and
 * 4-level paging (4.5: 1 GiB, 2 MiB, 4 KiB pages).  Each check is the
 * physical address the SDM gives for a linear address, or a failed walk
 * (an entry not present, or outside RAM: guest tables never make the
 * walker read outside the image).  Exit code: 1 on any failure.
 */
#include "uc_priv.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define RAM_SIZE 0x100000u /* 1 MiB */

struct tally {
    unsigned checks, failures;
};

static void put(uint8_t *ram, uint64_t at, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        ram[at + i] = (uint8_t)(v >> (8 * i));
}

/* la must map to want (or, want == NONE, fail to map). */
#define NONE UINT64_MAX
static void expect(struct tally *t, const uint8_t *ram,
                   const intc_uc_paging *pg, uint64_t la, uint64_t want,
                   int line)
{
    uint64_t pa = NONE;
    bool ok = intc_uc__walk(ram, RAM_SIZE, pg, la, &pa);
    t->checks++;
    if (ok != (want != NONE) || (ok && pa != want)) {
        t->failures++;
        fprintf(stderr,
                "test_paging.c:%d: mode %u la 0x%" PRIx64 ": %s 0x%" PRIx64
                ", want 0x%" PRIx64 "\n",
                line, pg->mode, la, ok ? "maps to" : "fails", pa, want);
    }
}
#define EXPECT(la, want) expect(t, ram, &pg, (la), (want), __LINE__)

/* 32-bit paging: page directory at 0x1000 (CR3 with PWT/PCD set). */
static void test_32(struct tally *t, uint8_t *ram)
{
    intc_uc_paging pg = {INTC_UC_PAGING_32, true, 0x1018};
    put(ram, 0x1000 + 0x000 * 4, 0x00000083, 4); /* 4 MiB at 0 */
    /* 4 MiB at 0x12_0040_0000: PDE bits 20:13 are PA bits 39:32; bit 12
       (PAT) is not an address bit. */
    put(ram, 0x1000 + 0x001 * 4, 0x00400083 | (0x12u << 13) | 0x1000, 4);
    put(ram, 0x1000 + 0x300 * 4, 0x00003003, 4); /* page table 0x3000 */
    put(ram, 0x1000 + 0x301 * 4, 0x00800083, 4); /* 4 MiB at 8 MiB */
    put(ram, 0x1000 + 0x3ff * 4, 0xfffff003, 4); /* table outside RAM */
    put(ram, 0x3000 + 0x001 * 4, 0x00075003, 4);
    put(ram, 0x3000 + 0x003 * 4, 0x00076002, 4); /* not present */
    put(ram, 0x3000 + 0x3ff * 4, 0x000ff003, 4);
    EXPECT(0x00123456, 0x00123456);
    EXPECT(0x00456789, 0x1200456789ull);
    EXPECT(0xc0001abc, 0x00075abc);
    EXPECT(0xc0001000, 0x00075000);
    EXPECT(0xc03fffff, 0x000fffff);
    EXPECT(0xc0002000, NONE); /* PTE 0 */
    EXPECT(0xc0003000, NONE); /* PTE without P */
    EXPECT(0x00800000, NONE); /* PDE 0 */
    EXPECT(0xc07ffffe, 0x00bffffe);
    EXPECT(0xfffff000, NONE);
    EXPECT(0x1c0001abcull, 0x00075abc); /* 32-bit linear address */
    /* CR4.PSE = 0: PDE.PS is ignored and the PDE locates a page table
       (0x00400000 + 0x24000: outside RAM; 0: the PTE at 0x123 * 4). */
    pg.pse = false;
    put(ram, 0x123 * 4, 0x00077003, 4);
    EXPECT(0x00456789, NONE);
    EXPECT(0x00123456, 0x00077456);
    EXPECT(0xc0001abc, 0x00075abc);
    /* CR3 outside RAM. */
    pg.cr3 = 0xfffff000;
    EXPECT(0x00123456, NONE);
}

/* PAE paging: PDPT at 0x4020 (32-byte aligned, not page-aligned). */
static void test_pae(struct tally *t, uint8_t *ram)
{
    intc_uc_paging pg = {INTC_UC_PAGING_PAE, false, 0x4020};
    put(ram, 0x4020 + 1 * 8, 0x00007081, 8); /* PS is no page size here */
    put(ram, 0x4020 + 3 * 8, 0x00005001, 8);
    put(ram, 0x7000 + 0 * 8, 0x00200083, 8); /* 2 MiB at 2 MiB */
    put(ram, 0x5000 + 0 * 8, 0x00006003, 8); /* page table 0x6000 */
    put(ram, 0x5000 + 2 * 8, 0x00a01083, 8); /* 2 MiB at 0xa00000, PAT */
    put(ram, 0x5000 + 3 * 8, 0x8000000123456083ull, 8);   /* NX, bits 51:21 */
    put(ram, 0x5000 + 511 * 8, 0x0000000ffffff003ull, 8); /* outside */
    put(ram, 0x6000 + 1 * 8, 0x8000000123456003ull, 8);   /* NX */
    put(ram, 0x6000 + 2 * 8, 0x00078002, 8);              /* not present */
    EXPECT(0x40000123, 0x00200123);
    EXPECT(0xc0001abc, 0x123456abcull);
    EXPECT(0xc0412345, 0x00a12345);
    EXPECT(0xc0600010, 0x123400010ull);
    EXPECT(0xc0002000, NONE);
    EXPECT(0xffe00000, NONE);
    EXPECT(0x00001000, NONE); /* PDPTE 0 not present */
    EXPECT(0x80000000, NONE);
    EXPECT(0xffffffffc0001abcull, 0x123456abcull);
    pg.cr3 = 0xffffffe0; /* PDPT outside RAM */
    EXPECT(0xc0001abc, NONE);
    pg.cr3 = RAM_SIZE - 32; /* PDPTE 3: the last 8 bytes of RAM */
    put(ram, RAM_SIZE - 8, 0x00005001, 8);
    EXPECT(0xc0001abc, 0x123456abcull);
    EXPECT(0x00001000, NONE);
    pg.cr3 = RAM_SIZE; /* the PDPT just past RAM */
    EXPECT(0xc0001abc, NONE);
}

/* 4-level paging: PML4 at 0x8000. */
static void test_4level(struct tally *t, uint8_t *ram)
{
    intc_uc_paging pg = {INTC_UC_PAGING_4LEVEL, false, 0x8000};
    put(ram, 0x8000 + 0 * 8, 0x00009003, 8);
    put(ram, 0x9000 + 0 * 8, 0x0000a003, 8);
    put(ram, 0x9000 + 1 * 8, 0x40000083, 8); /* 1 GiB at 1 GiB */
    put(ram, 0xa000 + 0 * 8, 0x0000b003, 8);
    put(ram, 0xa000 + 1 * 8, 0x00e00083, 8); /* 2 MiB at 14 MiB */
    put(ram, 0xb000 + 0x10 * 8, 0x00055003, 8);
    EXPECT(0x00010abc, 0x00055abc);
    EXPECT(0x40001234, 0x40001234);
    EXPECT(0x00212345, 0x00e12345);
    EXPECT(0x00011000, NONE);
    EXPECT(0x8000000000ull, NONE); /* PML4E 1 */
}

int main(void)
{
    struct tally t = {0, 0};
    uint8_t *ram = calloc(1, RAM_SIZE);
    if (!ram)
        return 1;
    test_32(&t, ram);
    test_pae(&t, ram);
    test_4level(&t, ram);
    intc_uc_paging none = {INTC_UC_PAGING_NONE, false, 0};
    uint64_t pa = 0;
    t.checks++;
    if (!intc_uc__walk(ram, RAM_SIZE, &none, 0xfee00000u, &pa) ||
        pa != 0xfee00000u) {
        t.failures++;
        fprintf(stderr, "test_paging.c: paging off is not the identity\n");
    }
    free(ram);
    printf("test_paging: %u checks, %u failures\n", t.checks, t.failures);
    return t.failures != 0;
}
