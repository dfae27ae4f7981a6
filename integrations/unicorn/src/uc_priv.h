/*
 * libintc-uc — private declarations shared by the sources of
 * integrations/unicorn/src, and the hook points of the trap module.
 */
#ifndef INTC_UC_PRIV_H
#define INTC_UC_PRIV_H

#include <unicorn/unicorn.h>

#include "intc/uc.h"
#include "trap.h"

#define UC_MAX_MMIO 16u
#define UC_BLOCK_CACHE 4096u /* per CPU, power of two */
/* Each engine's private reset page (realmode.c): not guest RAM. */
#define UC_RESET_PAGE 0xffffc000ull
#define UC_RESET_SIZE 0x4000ull

/* Why the running CPU must leave its slice (cpu.stop_req bits). */
#define UC_STOP_SLICE 0x01u   /* another CPU was kicked / time is up */
#define UC_STOP_EXC 0x02u     /* an exception to deliver */
#define UC_STOP_MACHINE 0x04u /* the machine stops (m->stop set) */
#define UC_STOP_REMAP 0x08u   /* the APIC page moves */

/* Offsets into a saved uc_context of the hidden CPU state the register
   API does not give (cpustate.c); ok false if the calibration failed. */
typedef struct uc_state_map {
    bool ok;
    size_t size;          /* uc_context_size() */
    size_t seg_base[4];   /* CS, SS, DS, ES caches: their bases */
    bool seg_load;        /* intc_uc__state_load_cs_ss works */
    size_t error_code;    /* of the exception being raised */
    size_t old_exception; /* QEMU's double-fault tracking */
} uc_state_map;
#define UC_SEG_CS 0u
#define UC_SEG_SS 1u

/* Cached facts about one translation block. */
typedef struct uc_block {
    uint64_t pc;
    uint32_t size; /* 0: empty slot */
    uint16_t icount;
    uint8_t last; /* last byte of the block (0xFB STI, 0xCF IRET) */
    uint8_t prev; /* the byte before it (0 for a 1-byte block) */
} uc_block;

typedef struct uc_cpu {
    struct intc_uc *m;
    uint32_t index;
    uc_engine *uc;
    intc_lapic *lapic;
    uc_context *reset_ctx; /* the 64-bit entry state */
    uc_context *sipi_ctx;  /* the INIT state: real mode (realmode.c) */
    uc_context *state_ctx; /* scratch for cpustate.c, NULL if off */
    uc_context *guard_pre, *guard_post; /* intc_uc__run_borrowed */
    intc_uc_cpu_state state;

    uint64_t clock;    /* virtual ns */
    uint64_t insns;    /* retired */
    uint64_t deadline; /* APIC timer, UINT64_MAX if none */
    uint64_t slice_end;
    uint64_t delivered;
    uint64_t now_read;   /* the latest clock libintc was given */
    uint64_t tsc_offset; /* as told to intc_lapic_set_tsc_offset */

    unsigned stop_req;   /* UC_STOP_* */
    bool hook_stopped;   /* the block hook called uc_emu_stop */
    bool first_block;    /* the next block is the slice's first */
    bool kicked;         /* kicked since it last ran (scheduling) */
    uint64_t stop_pc;    /* where (corruption 3: written back) */
    bool after_sti;      /* the next block is the STI shadow */
    bool sti_cand;       /* the last block ends in byte FB and started
                            with IF = 0: STI if IF is 1 now (uc.c) */
    bool after_iret;     /* the last block ended with IRET */
    bool nmi_blocked;    /* from NMI delivery until IRET (6.7.1) */

    /* The block being executed, to uncount a fault's tail. */
    uint64_t cur_pc, cur_end;
    uint16_t cur_icount;

    /* An exception raised by the last slice, delivered before the next. */
    bool exc_pending;
    uint8_t exc_vector;
    bool exc_has_err;
    uint32_t exc_err;
    unsigned exc_kind; /* enum intc_uc_kind */
    uint64_t exc_rip;  /* its return address */
    uint64_t cs_base_last; /* CS base read at the last slice end */
    bool cs_base_valid;
    uint8_t exc_ilen;  /* INT n/INT3/INTO/INT1: the instruction's length
                          (a fault of its delivery returns to it) */

    uint64_t apic_page;  /* where the LAPIC page is mapped */
    uint64_t apic_base;  /* IA32_APIC_BASE as libintc last said */
    bool remap_pending;

    uc_hook h_block, h_intr, h_in, h_out;
    uc_block *blocks; /* UC_BLOCK_CACHE entries */

    /* The trap module on this engine (RDMSR/WRMSR, RDTSC(P), MOV CR8,
       CPUID).  trap_cut: it emulated an instruction and wrote RIP past
       it, so the next block starts inside the counted one and the tail
       from there is uncounted (on_block). */
    ucx_trap *trap;
    bool trap_cut;

    /* intc_uc__real_far_jump runs one library far jump at far_jump_at:
       the block hook lets that block run, uncounted, and stops at the
       next.  task.c runs a borrowed IRET the same way.  far_jump_ran:
       the block ran once (a second visit stops, even at the same
       address); far_jump_fault: Unicorn raised an exception inside. */
    bool far_jump;
    uint64_t far_jump_at;
    bool far_jump_ran;
    bool far_jump_fault;
} uc_cpu;

typedef struct uc_mmio {
    uint64_t gpa, size;
    intc_uc_mmio_ops ops;
    void *opaque;
} uc_mmio;

/* An MSI-X table and PBA mapped by intc_uc_map_msix() (device.c). */
typedef struct uc_msix_window {
    intc_msix *msix;
    uint64_t pba_off; /* offset of the PBA in the window */
} uc_msix_window;

typedef struct uc_ioapic_ctx {
    struct intc_uc *m;
    uint32_t index;
} uc_ioapic_ctx;

typedef struct uc_mmio_ctx {
    struct intc_uc *m;
    uint32_t cpu;
    uint32_t window;
} uc_mmio_ctx;

struct intc_uc {
    intc_uc_config cfg;
    intc_machine *intc;
    uint32_t n_cpus;
    uint32_t bsp;
    uint32_t n_ioapics;
    unsigned iommu_kind;       /* enum intc_iommu_kind, from the config */
    bool x2apic, tsc_deadline; /* CPUID features, from the config */
    uc_ioapic_ctx *ioctx;      /* n_ioapics */
    uint8_t *ram;
    uint64_t ram_size;
    uc_cpu *cpus;
    uc_state_map state; /* cpustate.c */

    uc_cpu *running;      /* the CPU inside uc_emu_start, or NULL */
    uc_cpu *serviced;     /* the CPU being prepared or run */
    uint32_t last_run;    /* round robin */
    bool in_run;
    int in_callback;      /* depth of host callbacks */

    uint64_t insns_total;
    uint64_t insn_limit; /* absolute, UINT64_MAX if none */
    uint64_t time_limit; /* absolute, UINT64_MAX if none */
    bool stop_requested;
    intc_uc_stop_info stop; /* reason NONE while running */
    bool terminal;

    uc_mmio mmio[UC_MAX_MMIO];
    uint32_t n_mmio;
    uc_mmio_ctx *mmio_ctx; /* n_cpus * UC_MAX_MMIO */

    /* device.c: MSI-X windows (each is also one of the mmio windows) */
    uc_msix_window msixw[UC_MAX_MMIO];
    uint32_t n_msixw;
};

/* uc.c; uc_hook_add() takes its callback as void *: intc_uc__hook_fn
   converts without the function-to-object pointer cast ISO C forbids. */
typedef void (*intc_uc__any_fn)(void);
void *intc_uc__hook_fn(intc_uc__any_fn f);
void intc_uc__emit(intc_uc *m, uc_cpu *c, intc_uc_event_type type,
                   int32_t vector, uint64_t rip, uint64_t data,
                   uint64_t data2);
void intc_uc__stop(intc_uc *m, intc_uc_stop reason, uc_cpu *c,
                   uint64_t code);

/* cpustate.c: calibrate the map on a scratch engine (at machine
   creation; map->ok false if it failed); give cpu c its scratch context;
   read the error code of the exception Unicorn raises now (from its
   interrupt hook) and reset QEMU's double-fault tracking; read the
   hidden base of CS or SS.  The last two return false when the map is
   off. */
void intc_uc__state_calibrate(uc_state_map *map);
intc_err intc_uc__state_attach(uc_cpu *c);
bool intc_uc__state_exception(uc_cpu *c, uint32_t *err);
bool intc_uc__state_seg_base(uc_cpu *c, unsigned which, uint64_t *base);
/* Load CS and SS as a descriptor load does (selector, base, expanded
   limit, the descriptor's high dword as flags) and make cpl the CPL,
   with the code and stack sizes that follow (ss NULL: SS stays); false
   (nothing changed) when the map is off.  Registers written through the API after it. */
typedef struct intc_uc_seg {
    uint16_t sel;
    uint64_t base;
    uint32_t limit;
    uint32_t flags;
} intc_uc_seg;
bool intc_uc__state_load_cs_ss(uc_cpu *c, const intc_uc_seg *cs,
                               const intc_uc_seg *ss, unsigned cpl);

/* uc.c: drop Unicorn's translations of the linear range [begin, end). */
uc_err intc_uc__tb_remove(uc_engine *uc, uint64_t begin, uint64_t end);

/* realmode.c: the reset page and the real-mode INIT state of cpu c
   (once, before any hook); entering the wait-for-SIPI state; starting
   at SIPI vector v (returns the start address V << 12); the CS base to
   turn a linear code address lin into IP (the hidden base, cpustate.c;
   without the map: in real mode the reset page's 0xFFFF0000, else
   CS << 4; virtual-8086 mode: CS << 4; protected and long mode: flat,
   0). */
intc_err intc_uc__reset_page_init(uc_cpu *c);
void intc_uc__enter_wait_sipi(uc_cpu *c);
uint64_t intc_uc__sipi_start(uc_cpu *c, uint8_t v);
uint64_t intc_uc__cs_base(uc_cpu *c, uint64_t lin);
/* Between slices, in real mode: make the guest execute jmp far sel:ip
   (realmode.c); false if it could not. */
bool intc_uc__real_far_jump(uc_cpu *c, uint16_t sel, uint16_t ip);
/* Between slices: let the guest execute the n (<= 8) bytes of code at
   linear lin (RAM at gpa, ip its (R)IP) once, in its current state:
   the bytes are borrowed and put back, the block hook stops at the
   next block (uncounted), Unicorn's translations of them are dropped in
   the state before (a drop in the state after could fault: a host
   crash).  false if Unicorn raised an exception inside. */
bool intc_uc__run_borrowed(uc_cpu *c, uint64_t lin, uint64_t gpa,
                           uint64_t ip, const uint8_t *code, size_t n);

/* deliver.c: deliver vector through the IDT of CPU c (between slices),
   escalating faults of the delivery itself to #DF and a triple fault.
   rip is the return address.  Returns false when the machine stopped. */
bool intc_uc__deliver(uc_cpu *c, uint8_t vector, unsigned kind,
                      bool has_err, uint32_t err, uint64_t rip);
/* Translate a linear address through the guest's paging (identity when
   CR0.PG = 0; 32-bit, PAE or 4-level paging otherwise, SDM 4.3-4.5) to a
   RAM offset; false if not present or not RAM. */
bool intc_uc__translate(uc_cpu *c, uint64_t la, bool write, uint64_t *gpa);
/* The paging state a walk depends on (SDM 4.1.1, table 4-1). */
enum {
    INTC_UC_PAGING_NONE,  /* CR0.PG = 0: linear = physical */
    INTC_UC_PAGING_32,    /* CR4.PAE = 0 (4.3) */
    INTC_UC_PAGING_PAE,   /* CR4.PAE = 1, EFER.LMA = 0 (4.4) */
    INTC_UC_PAGING_4LEVEL /* EFER.LMA = 1 (4.5) */
};
typedef struct intc_uc_paging {
    unsigned mode; /* INTC_UC_PAGING_* */
    bool pse;      /* CR4.PSE (4 MiB pages of 32-bit paging) */
    uint64_t cr3;
} intc_uc_paging;
/* The walk itself, on a RAM image of ram_size bytes: the physical
   address la maps to (not checked against RAM: PSE-36 reaches 1 TiB);
   false if an entry on the way is not present or not wholly in RAM.
   Access rights and reserved bits are not checked. */
bool intc_uc__walk(const uint8_t *ram, uint64_t ram_size,
                   const intc_uc_paging *pg, uint64_t la, uint64_t *pa);
/* Whether vector has an error code (SDM table 6-1). */
bool intc_uc__has_error_code(uint8_t vector);

/* A fault of a delivery: the vector and error code to deliver instead
   (with CR2 for a #PF when has_cr2), or (unsupported != 0) the enum
   intc_uc_unsupported reason to stop, or (unmapped != 0) the uc_err of
   an access to memory that is not RAM (INTC_UC_STOP_UNMAPPED). */
typedef struct intc_uc_fault {
    uint8_t vector;
    uint32_t err;
    unsigned unsupported;
    bool has_cr2;
    uint64_t cr2;
    int unmapped;
} intc_uc_fault;

/* Set *f to the fault v(err); always false (deliver.c, task.c). */
static inline bool intc_uc__fault(intc_uc_fault *f, uint8_t v, uint32_t err)
{
    f->vector = v;
    f->err = err;
    f->unsupported = 0;
    f->has_cr2 = false;
    f->unmapped = 0;
    return false;
}

/* deliver.c: the fault of a delivery's access to [la, la + n) that does
   not translate (a #PF with CR2 = its first address that does not, or
   the stop for memory that is not RAM); always false. */
bool intc_uc__lin_fault(uc_cpu *c, uint64_t la, size_t n, bool write,
                        intc_uc_fault *f);

/* task.c, legacy protected mode.  An interrupt or exception through a
   task gate whose TSS selector is tss_sel (SDM 6.12.2, 7.3), and one
   through a 32-bit interrupt (type 0xE) or trap (0xF) gate with target
   sel:target taken in virtual-8086 mode (20.3.1.1).  ext is the EXT bit
   of error codes (6.13), rip the return address.  false with the fault
   in *f. */
bool intc_uc__task_gate(uc_cpu *c, uint16_t tss_sel, uint32_t ext,
                        bool has_err, uint32_t err, uint64_t rip,
                        intc_uc_fault *f);
bool intc_uc__deliver_v86(uc_cpu *c, unsigned type, uint16_t sel,
                          uint32_t target, uint32_t ext, bool has_err,
                          uint32_t err, uint64_t rip, intc_uc_fault *f);

/*
 * ---------------------------------------------------------------------
 * Hook points for the trap module (src/trap.[ch]).  uc.c attaches one
 * trap per CPU in cpu_init (trap_attach) with UCX_TRAP_EXTERNAL_BLOCK;
 * its ops (t_rdmsr...) call these.  They run inside a Unicorn hook of
 * that CPU while it runs, or between slices; none of them stops the
 * engine or writes RIP (the trap module does, as trap.h says).
 */

/* RDMSR/WRMSR.  Returns 0 when the MSR was handled (*val set for a read),
   1 when it is not libintc-uc's (the trap module lets Unicorn run it
   natively, e.g. EFER), -1 for #GP(0): the trap module then calls
   intc_uc_trap_exception(m, cpu, 13, true, 0, rip_of_the_instruction)
   instead of advancing RIP.  Handles IA32_APIC_BASE (0x1B),
   IA32_TSC_DEADLINE (0x6E0) and the x2APIC range (0x800-0x8FF) through
   libintc, and IA32_TIME_STAMP_COUNTER (0x10) as the virtual TSC. */
int intc_uc_trap_msr_read(intc_uc *m, uint32_t cpu, uint32_t msr,
                          uint64_t *val);
int intc_uc_trap_msr_write(intc_uc *m, uint32_t cpu, uint32_t msr,
                           uint64_t val);

/* MOV to/from CR8: the TPR's priority class (CR8[3:0] = TPR[7:4]).
   Returns 0, or -1 for #GP(0) (reserved bits 63:4 set on a write). */
int intc_uc_trap_cr8_read(intc_uc *m, uint32_t cpu, uint64_t *val);
int intc_uc_trap_cr8_write(intc_uc *m, uint32_t cpu, uint64_t val);

/* RDTSC/RDTSCP: the virtual TSC of cpu (intc_machine_tsc on the CPU's
   clock); *aux (may be NULL) receives IA32_TSC_AUX for RDTSCP (the
   initial APIC ID). */
uint64_t intc_uc_trap_tsc(intc_uc *m, uint32_t cpu, uint32_t *aux);

/* CPUID: patch what Unicorn returned for leaf/subleaf in regs (EAX, EBX,
   ECX, EDX): leaf 1 APIC (EDX[9]), x2APIC (ECX[21]), TSC-deadline
   (ECX[24]) as configured, initial APIC ID (EBX[31:24]); leaf 0xB the
   x2APIC ID in EDX (one thread per core, one core per package
   topology). */
void intc_uc_trap_cpuid(intc_uc *m, uint32_t cpu, uint32_t leaf,
                        uint32_t subleaf, uint32_t regs[4]);

/* Record an exception on cpu (#GP(0) from a refused WRMSR, #UD) whose
   faulting instruction is at rip, delivered through the IDT before the
   CPU runs again with rip as the return address.  The trap module stops
   the engine before the instruction; run_slice writes RIP = rip and
   takes the rest of the block off the count.  Returns 0, or -1 if cpu
   is out of range. */
int intc_uc_trap_exception(intc_uc *m, uint32_t cpu, uint8_t vector,
                           bool has_err, uint32_t err, uint64_t rip);

/* Take the running block's instructions from next_rip on off cpu's
   count (they did not run as part of it).  uc.c does this itself at the
   next block (cpu.trap_cut) and after a trap stop; kept for hosts of
   the hook points. */
void intc_uc_trap_cut(intc_uc *m, uint32_t cpu, uint64_t next_rip);

#endif /* INTC_UC_PRIV_H */
