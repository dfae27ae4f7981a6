/*
 * libintc-uc — libintc as the interrupt fabric of a set of Unicorn x86-64
 * CPUs (Unicorn 2.0.1, Debian's libunicorn-dev).
 *
 * Unicorn emulates instructions but has no interrupt controller and never
 * vectors through the guest's IDT.  An intc_uc is a small machine: N
 * Unicorn engines (one per CPU, UC_MODE_64) sharing one guest RAM buffer,
 * a libintc machine (one Local APIC per CPU, IOAPICs), and a deterministic
 * one-thread scheduler that runs the CPUs round robin on virtual clocks
 * derived from exact instruction counts, delivers interrupts and
 * exceptions through the guest IDT, and stops on a documented condition.
 * This header is the manual: every sentence is a requirement.
 *
 * Threads.  Nothing here is thread-safe.  One thread drives a machine;
 * different machines are independent (the library has no mutable global
 * state) and may run on different threads at once.  Callbacks (event,
 * console, device MMIO) run on the thread inside intc_uc_run(); from them
 * the host may call the query functions, intc_uc_set_gsi(),
 * intc_uc_msi_send(), intc_uc_dma_write(), intc_uc_request_stop() and
 * libintc's own API on intc_uc_intc() (libintc's re-entrancy rules
 * apply), but not
 * intc_uc_run(), intc_uc_load() or intc_uc_free() (INTC_ERR_BUSY, or for
 * free: a host bug, ignored).
 *
 * ---------------------------------------------------------------------
 * Guest physical memory map
 *   0 .. ram_size-1              RAM (one host buffer, shared by all CPUs)
 *   0xFEC00000 + 0x1000 * i      IOAPIC i (4 KiB each, shared): libintc
 *                                decodes 0x00-0xFF; the rest of the page
 *                                reads 0 and ignores writes
 *   IA32_APIC_BASE (0xFEE00000)  each CPU's own Local APIC page (xAPIC);
 *                                moved when the guest moves the base; when
 *                                the APIC does not decode it (globally
 *                                disabled, x2APIC mode) reads return all
 *                                ones and writes are dropped, as on an
 *                                idle bus
 *   device windows               intc_uc_map_mmio(), intc_uc_map_msix(),
 *                                intc_uc_map_iommu() (see "device API")
 *   0xFFFFC000-0xFFFFFFFF        each CPU's private reset page (library
 *                                code and tables for the real-mode INIT
 *                                state, "Entry state"); guest code must
 *                                not use it
 *   anything else                unmapped: an access stops the machine
 *                                (INTC_UC_STOP_UNMAPPED)
 * RAM must end below 0xFEC00000 (ram_size <= 0xFEC00000).
 *
 * I/O ports (OUT/IN instructions, any CPU)
 *   0xE9  console: OUT of a byte calls the console callback
 *   0xF4  debug exit: OUT of a byte, word or dword stops the machine with
 *         INTC_UC_STOP_EXIT, code = the value written.  The stop takes
 *         effect at the end of the current translation block: follow the
 *         OUT with a halt loop (`1: hlt; jmp 1b`).  By convention a test
 *         firmware writes INTC_UC_EXIT_PASS for success, anything else
 *         for a failure of its own numbering.
 *   other ports: OUT ignored, IN returns all ones.
 *
 * Entry state of every CPU (what a UC_MODE_64 engine starts in; it
 * cannot run real mode): 64-bit mode with paging off (Unicorn's flat
 * long mode: linear = physical; CR0 = PE|ET, CR4 = 0, EFER = LME|LMA),
 * CS = 0 with a 64-bit hidden descriptor, the other segments 0, GDTR and
 * IDTR base 0 limit 0, RFLAGS = 2 (IF clear), every general register 0.
 * Firmware must load a GDT with a 64-bit code segment and reload CS (a
 * far return) before its first IRETQ (IRETQ reads the GDT), and load an
 * IDT before it enables interrupts.  It may turn on 4-level paging
 * (PAE + PG), or leave long mode for 32-bit or PAE paging; the library
 * walks the guest's page tables when it delivers through the IDT
 * ("Delivery"; but see F10 under "Modes": Unicorn 2.0.1 itself gives
 * guest accesses physical = linear).
 *   - The bootstrap processor (CPU index bsp of the libintc config)
 *     starts at config.entry.
 *   - Application processors start waiting for SIPI.  INIT then
 *     STARTUP IPI vector V starts the AP at physical address V << 12
 *     IN REAL-ADDRESS MODE, as on hardware (SDM 9.4.4, 9.1.4): CS = V << 8
 *     with base V << 12, IP = 0, IF = 0, the other segments 0 (base 0,
 *     limit 64 KiB), IDTR base 0 limit 0x3FF, GDTR base 0 limit 0xFFFF,
 *     CR0 = ET, CR4 = 0, EFER = 0, general registers 0.  The SIPI page
 *     (below 1 MiB) holds 16-bit code that climbs to protected or long
 *     mode itself (examples/unicorn/fw/common.inc AP_REAL_MODE_START;
 *     sipi_realmode.s).  How (the API cannot load a real-mode CS base,
 *     F5 under "Modes"): each engine owns a private reset page at
 *     0xFFFFC000-0xFFFFFFFF (not guest RAM, invisible to other CPUs; the
 *     APIC base and device windows may not be moved there).  At
 *     creation, before any hook, the engine runs a library trampoline
 *     there that leaves long mode (9.8.5.4) and drops to real mode
 *     (9.9.2) with a CS base of 0xFFFF0000, the reset state's; that state
 *     (CS = F000, IP = FFF0) is kept as a Unicorn context (F7).  A SIPI
 *     restores it and writes `jmp far V<<8:0000` at 0xFFFFFFF0: the AP's
 *     first instruction, executed by the guest, loads CS base V << 12
 *     (it counts as one instruction on the AP's clock).  A further INIT puts the AP
 *     back to waiting for SIPI in that INIT state.
 *     Option: config.sipi_64 = true keeps the older convention (the AP
 *     starts at V << 12 in the 64-bit entry state above, 64-bit code at
 *     the SIPI page); intc-uc-run --sipi-64.
 *   - INIT sent to the BSP stops the machine (INTC_UC_STOP_UNSUPPORTED):
 *     the BSP starts in the 64-bit entry state, not at a reset vector.
 *
 * ---------------------------------------------------------------------
 * Time.  CPU i has a virtual clock in nanoseconds: insn_ns per retired
 * instruction, counted per translation block from the block's exact
 * instruction count (Unicorn's own, cached per block address and size),
 * plus the time it spent halted.  libintc's now_ns(cpu) is that clock;
 * its APIC timers run on it (apic_timer_hz of the libintc config).
 * Counting is exact except: a block that faults part-way counts the
 * instructions of the block before the faulting one as Unicorn
 * re-translates them (exact unless the block ended at Unicorn's
 * instruction limit); guest code that rewrites a block in place keeping
 * its address and size keeps the old block's count until the next
 * intc_uc_load() or SIPI (both forget every cached count).  Either way
 * the result is deterministic.  An instruction the trap module emulates
 * (below) counts as one instruction.
 *
 * Scheduler (intc_uc_run).  One host thread.  The next CPU to run is the
 * one with the earliest "ready time" (its clock if it can run; for a
 * halted CPU that nothing can wake yet, its timer deadline; never for a
 * CPU that nothing will wake); ties go to the CPU kicked last, then
 * round robin from the CPU after the last one run.  A slice runs the CPU
 * from its clock t until the first block boundary at or after
 * min(t + quantum_ns, every CPU's armed timer deadline after t), or
 * earlier when the CPU sends another CPU something (libintc's kick: the
 * sender's slice ends at its next block boundary so the target runs
 * next), when it can take an interrupt it has pending, when its APIC base
 * moves, or on a stop.  A halted CPU woken by another is brought forward
 * to the waker's clock.  When every CPU is halted, time skips to the
 * earliest deadline; with no deadline and nothing pending the machine
 * stops (INTC_UC_STOP_ALL_HALTED).  The same configuration, images and
 * calls give the same run: the same events at the same clocks, bit for
 * bit (tested).
 *
 * Delivery (SDM vol. 3A ch. 6).  Between slices, in this order: an
 * exception the last slice raised; NMI (unless blocked: NMI stays
 * blocked from its delivery until the next IRET, 6.7.1); a maskable
 * interrupt when RFLAGS.IF = 1 and the CPU is not in an STI shadow (the
 * one instruction after STI) - acknowledged with intc_lapic_ack(), so
 * the vector is in service until the guest's EOI.  A halted CPU so
 * woken resumes after its HLT.  What delivery does depends on the mode
 * the CPU is in at that moment:
 *   - IA-32e mode (EFER.LMA = 1: 64-bit and compatibility mode; in
 *     compatibility mode interrupts still use the 64-bit IDT, 6.14):
 *     the 16-byte gate at IDTR.base + 16 * vector (64-bit interrupt
 *     gate 0xE or trap gate 0xF, present, within the limit; software
 *     INT n also checks gate DPL >= CPL), the target code segment in
 *     the GDT (present 64-bit code), TSS.RSPn on a privilege change and
 *     TSS.IST[n] when the gate names one (not canonical: #SS(EXT); a
 *     target RIP that is not canonical: #GP(EXT); 6.14.4, 6.14.1),
 *     RSP aligned to 16, push SS,
 *     RSP, RFLAGS, CS, RIP and the error code if the vector has one (8,
 *     10-14, 17, 21).
 *   - Legacy protected mode (CR0.PE = 1, EFER.LMA = 0; 6.11, 6.12.1):
 *     the 8-byte gate at IDTR.base + 8 * vector (32-bit interrupt gate
 *     0xE, trap gate 0xF or task gate 0x5; same present/limit/DPL
 *     checks), the target code segment in the GDT (present code, L = 0),
 *     SS0:ESP0 (SSn:ESPn) of the 32-bit TSS on a privilege change
 *     (7.2.1; a 16-bit TSS stops the machine, INTC_UC_UNSUP_GATE), the
 *     new SS checked first (null: #TS(EXT); not in the GDT or LDT, RPL
 *     or DPL not the new CPL, not writable data: #TS(SS); not present:
 *     #SS(SS)), with the old SS, ESP pushed first, then EFLAGS, CS, EIP
 *     and the error code, 4 bytes each, at SS.base + ESP (the hidden
 *     base without a privilege change).  Not checked: the stack
 *     segment's limit and EIP against the new CS limit.
 *     A task gate (6.12.2) switches tasks as SDM 7.3 says: its TSS
 *     selector must name an available 32-bit TSS in the GDT (#GP(sel)
 *     for an LDT selector, one beyond the GDT, a busy TSS or not a TSS;
 *     #NP(sel) not present; #TS(sel) limit below 67H; #TS(TR) when the
 *     current TSS is below 67H), the new task's LDT, CS, SS, ES, DS, FS,
 *     GS and EIP are checked as table 7-1 says (#TS, #NP, #SS with the
 *     selector; #GP(0) for EIP beyond CS), the current state (general
 *     and segment registers, EFLAGS, EIP = the return address) is saved
 *     in the current TSS, the new TSS's link is set to the current TR
 *     and its descriptor marked busy (the old one stays busy: nested),
 *     then TR, LDTR, CR3 (only when CR0.PG = 1), EFLAGS with NT set,
 *     EIP, the general and segment registers (with their descriptors
 *     and CPL) are loaded, CR0.TS set, DR7's local enables cleared, and
 *     the error code, if any, pushed on the new task's stack (#SS(0),
 *     EXT, in the new task when it does not fit).  The guest's IRET with
 *     NT = 1 is Unicorn's own task switch back (F12).  Every error code
 *     has EXT for external events and NMI.  Deviation: the checks the
 *     SDM makes after the switch's commit point (table 7-1 from "the
 *     registers are loaded": LDT, CS, SS, data segments, EIP) are made
 *     before it, so such a fault is raised in the interrupted task and
 *     the switch does not happen.
 *     From virtual-8086 mode (EFLAGS.VM = 1, CPL 3; 20.3.1.1, figure
 *     20-5) an interrupt or trap gate must lead to a present
 *     nonconforming code segment of DPL 0 (#GP(sel), #NP(sel)); SS0
 *     (null: #TS(0); RPL or DPL not 0, not writable data: #TS(SS0); not
 *     present: #SS(SS0)) and ESP0 come from the 32-bit TSS (limit below
 *     9: #TS(TR)); GS, FS, DS, ES, SS, ESP, EFLAGS (VM = 1), CS, EIP and
 *     the error code are pushed there (#SS(SS0) when they do not fit);
 *     DS, ES, FS, GS are loaded null, CS:EIP from the gate with CPL 0;
 *     VM, TF, RF, NT (and IF for an interrupt gate) clear.  The guest's
 *     IRETD at CPL 0 with VM = 1 in the popped EFLAGS is Unicorn's own
 *     return to virtual-8086 mode (F13).  In virtual-8086 mode INT n
 *     with IOPL < 3 is #GP(0) at the INT, delivered so (20.3.3, no VME;
 *     Unicorn raises it, F13); with IOPL 3, INT n goes through the IDT
 *     (gate DPL 3, else #GP(vector * 8 + 2)).  A task gate works from
 *     virtual-8086 mode too (the saved EFLAGS keep VM = 1).
 *     How, since register writes load no descriptor (F11): the library
 *     makes the checks and then lets the guest execute one IRET with
 *     NT = 1 (F12) in the byte of RAM at its CS:EIP, borrowed and put
 *     back at once (from virtual-8086 mode after an API write of VM = 0,
 *     F13); the current TSS's link names the new task, or, for delivery
 *     from virtual-8086 mode, the current TSS itself, written with the
 *     handler's context; what that IRET changes besides is put back
 *     (the old TSS's contents and busy bit; for virtual-8086 delivery
 *     also TR, LDTR, CR0.TS and DR7).  That IRET is not counted.
 *     Limits: the stack is 32-bit (ESP); a 16-bit gate, a task gate
 *     naming a 16-bit TSS or interrupting a task whose TR is a 16-bit
 *     TSS stops the machine (INTC_UC_STOP_UNSUPPORTED,
 *     INTC_UC_UNSUP_GATE), as do virtual-8086 delivery with a 16-bit TSS
 *     and a switch that cannot be made (CS:EIP, or TR's descriptor
 *     slot, not in RAM; Unicorn refusing it half-way where its checks
 *     are stricter than the SDM's, e.g. a conforming CS with DPL < RPL
 *     in the new TSS) (INTC_UC_UNSUP_MODE).  Tested by uc_pm32,
 *     uc_pm32_paging, uc_taskgate and uc_v86 (task switches and
 *     virtual-8086 delivery with paging on: not tested).
 *   - Real-address mode (CR0.PE = 0; SDM 20.1.4): the IVT entry at
 *     IDTR.base + 4 * vector (IP, then CS; beyond IDTR.limit: #GP),
 *     FLAGS, CS, IP pushed (2 bytes each, no error code) at SS.base +
 *     SP - 2, - 4, - 6, offsets modulo 64 KiB (SP = 0 is the top of the
 *     segment; a push straddling offset FFFF is #SS(0)), IF, TF and AC
 *     cleared.  The new CS base is
 *     loaded by a far jump the guest executes (F5): between slices no
 *     other CPU runs, so the library writes `jmp far CS:IP` over the 5
 *     bytes of RAM at the interrupted CS.base + IP (IP 0 if it is within
 *     5 bytes of the segment's end), runs that one instruction (not
 *     counted) and puts the original bytes back before anything else
 *     runs.  The stack base and the code base are SS's and CS's hidden
 *     bases (an "unreal" segment keeps the base it had; see "The hidden
 *     CPU state").  Limits: the 5 bytes must be RAM (else
 *     INTC_UC_STOP_UNSUPPORTED, INTC_UC_UNSUP_MODE).  Tested by
 *     uc_realmode_timer.
 * Paging (SDM vol. 3A ch. 4): with CR0.PG = 1 every linear address of a
 * delivery (IDT, GDT, TSS, the frame) is translated by the paging mode
 * CR4.PAE and EFER.LMA select (4.1.1): 32-bit paging (4.3: 4 KiB pages,
 * 4 MiB pages when CR4.PSE = 1 with the PDE's PSE-36 bits 20:13 as
 * physical bits 39:32), PAE paging (4.4: the four PDPTEs at CR3[31:5],
 * read from memory at each walk as QEMU does, 2 MiB and 4 KiB pages) or
 * 4-level paging (4.5: 1 GiB, 2 MiB and 4 KiB pages).  Access rights
 * and reserved bits are not checked, accessed and dirty bits not set.
 * Unit-tested by uc_paging (integrations/unicorn/tests/test_paging.c).
 * In both protected-mode deliveries through interrupt and trap gates TF,
 * NT, RF and VM are cleared (and IF for an interrupt gate) and RIP is
 * written last.  A delivery that faults raises #GP/#NP/#SS/#TS with the
 * selector or IDT error code (6.13, IDT bit = 2, EXT = 1 for external
 * events and NMI), or #PF when a linear address of the IDT, GDT, TSS or
 * new stack does not translate: CR2 = that address (for the frame, the
 * first push that faults, pushing from the top: SS at top - 8 in IA-32e
 * mode), error code W/R as the access, U/S = 0 (the processor's own
 * accesses are supervisor accesses, 4.6) and P = 0 (4.7); a page that
 * translates to memory that is not RAM stops the machine
 * (INTC_UC_STOP_UNMAPPED, as a guest access would).  The fault is
 * delivered in place of the event, or #DF (error code 0) where table
 * 6-5 says so (contributory then contributory, #PF then contributory or
 * #PF; an interrupt, NMI or INT n is benign), with the return address
 * of the event, except that a fault delivering INT n, INT3 or INTO
 * returns to that instruction (it did not complete).  A fault
 * delivering #DF is a triple fault (INTC_UC_STOP_TRIPLE_FAULT).  Tested
 * by uc_exc_codes part 5.
 *
 * Exceptions the guest raises in Unicorn (#DE, #BP, INT n, #UD, #GP from
 * IRET or a segment load, #PF...) are delivered through the IDT the same
 * way, with the error code Unicorn computed (a #GP, #NP, #SS or #TS
 * selector error code, SDM 6.13; #PF's P, W/R, U/S, RSVD and I/D bits,
 * SDM 4.7) and #PF's CR2 as Unicorn set it.  INT n (CD ib), INT3 and
 * INTO are software interrupts: no error code even for vectors that
 * have one, and the gate's DPL is checked.  INT1 (F1) is a #DB trap
 * after it, delivered as an exception (no DPL check, SDM 6.12.1.1).
 * Tested by uc_exc_codes (examples/unicorn/fw/exc_codes.s).
 *
 * The hidden CPU state.  Unicorn 2.0.1's register API gives neither the
 * error code of the exception it raises, nor the hidden base of a
 * segment register, and QEMU's double-fault tracking (which QEMU resets
 * in its own delivery, replaced by Unicorn's interrupt hook) is never
 * reset: after one contributory fault or #PF, the next one arrived as
 * #DF(0).  uc_context_save() copies that state, in a layout that is
 * Unicorn's build and not an API; so at intc_uc_new() a scratch engine
 * finds the offsets it needs from values it plants (registers, FS/GS
 * bases, two #GP with known selectors) and checks each by its effect
 * (src/cpustate.c; ~1 ms once per machine).  With the map, the interrupt
 * hook reads the error code and resets the tracking, the CS and SS
 * bases are read as loaded, and a delivery that changes CS (a privilege
 * change, e.g. from CPL 3 to a CPL 0 handler, or from compatibility mode
 * to a 64-bit handler) loads CS and SS with their descriptors and the
 * new CPL, as the processor does (6.12.1; Unicorn's register writes
 * change the selector only, F11): the segment caches and QEMU's hidden
 * flags (CPL, code and stack size) are written in the saved context,
 * whose layout a far return in the calibration checks.  Tested by
 * uc_ring3 and uc_pm32_ring3.  Should the calibration fail (another
 * Unicorn build), intc_uc_trap_info_get reports hidden_state = false and
 * the library falls back to what the register API gives: error code 0,
 * a second fault as #DF, CS << 4 and SS << 4 in real mode, base 0 in
 * protected mode, and selector-only CS and SS writes (the handler keeps
 * the interrupted code's CPL and code size).
 * Wild guest code (test uc_wild: random images salted with system
 * instructions over plausible but salted GDT, IDT and TSS; 3000 images
 * and 9.2 M deliveries without a memory error or hang when measured)
 * ends in a documented stop.  Two facts from it: a delivery costs one
 * instruction's time on the CPU's clock and in the run's instruction
 * budget (not in its retired count), so a fault loop (each handler
 * faulting at once) still ends at the run's limits; and Unicorn 2.0.1
 * itself aborts the process ("tcg fatal error", tcg.c:3073, on a bare
 * engine too) when it translates FF /3 or FF /5 with a register operand
 * (an invalid far CALL or JMP) - translation happens before any hook
 * this library can use, so such guest code cannot be survived.
 * A fourth silent corruption of Unicorn 2.0.1 (after the three src/uc.c
 * lists at its top): at the end of every uc_emu_start() it translates the
 * linear address `until - 1` through the guest's paging to drop the
 * translation there; when that address is unmapped this raises a #PF
 * nobody sees, which sets CR2 to until - 1 and arms the double-fault
 * tracking.  The library turns Unicorn's exits mechanism on with no
 * exit (uc_ctl_exits_enable), which skips that step; `until` is unused.

 * ---------------------------------------------------------------------
 * Instructions Unicorn 2.0.1 cannot hook (the trap module, src/trap.h).
 * Unicorn runs RDMSR/WRMSR of the APIC MSRs as no-ops (reads 0), drops
 * MOV CR8, returns the host TSC from RDTSC and reports no APIC in CPUID.
 * Every CPU therefore carries a trap:
 *   - RDMSR/WRMSR of IA32_APIC_BASE (0x1B), IA32_TSC_DEADLINE (0x6E0)
 *     and the x2APIC range 0x800-0x8FF go to libintc's
 *     intc_lapic_msr_read/write: x2APIC mode (EXTD; the xAPIC page then
 *     stops decoding, above), the 64-bit ICR (0x830), SELF IPI (0x83F),
 *     EOI (0x80B), the TSC-deadline timer (timer mode 10b).
 *     IA32_TIME_STAMP_COUNTER (0x10) reads the virtual TSC; writing it
 *     sets the CPU's TSC offset (intc_lapic_set_tsc_offset) so that it
 *     reads the value written.  Every other MSR (EFER, IA32_TSC_AUX,
 *     ...) is Unicorn's own.
 *   - RDTSC and RDTSCP return the virtual TSC: intc_machine_tsc() on the
 *     CPU's clock (tsc_hz of the libintc config, default 1 GHz: one
 *     count per virtual ns).  The clock counts whole translation blocks
 *     at their start, and an emulated instruction ends its block, so the
 *     TSC never goes back and two reads on one CPU always differ; like
 *     every clock here it is deterministic.  RDTSCP's ECX is Unicorn's
 *     IA32_TSC_AUX (0 after reset, as written by WRMSR 0xC0000103).
 *   - MOV to/from CR8 is the TPR's priority class (SDM 11.8.6:
 *     CR8[3:0] = TPR[7:4]) through intc_lapic_set_tpr/get_tpr: a class
 *     <= CR8 stays pending until CR8 is lowered (the CPU takes it at the
 *     next block boundary after the MOV).  LOCK MOV CR0 is AMD's CR8
 *     alias and is treated the same.
 *   - CPUID leaf 1 reports APIC (EDX[9], cleared while IA32_APIC_BASE.EN
 *     is 0), x2APIC (ECX[21]) and TSC-deadline (ECX[24]) as the libintc
 *     config says, and the initial APIC ID in EBX[31:24]; leaf 0BH
 *     reports the x2APIC ID in EDX and a topology of one thread per core
 *     and every CPU in one package.  The rest is Unicorn's CPU model.
 *   - Faults: when libintc answers #GP (an x2APIC MSR in xAPIC mode, a
 *     reserved or read-only x2APIC MSR, a reserved bit, a non-zero EOI
 *     write, an illegal IA32_APIC_BASE transition: SDM 11.12.1.2,
 *     11.12.1.3, 11.12.5), a MOV to CR8 with bits 63:4 set, and LOCK on
 *     RDMSR/WRMSR/RDTSC/RDTSCP (#UD, which Unicorn itself omits) raise
 *     the exception at the instruction, which has had no effect:
 *     delivered through the IDT as an exception (#GP with error code 0)
 *     with the instruction's address as the return RIP.
 *   - At CPL > 0 RDMSR, WRMSR and MOV CR8 (and RDTSC/RDTSCP with
 *     CR4.TSD = 1) are left to Unicorn, which raises #GP(0) itself.
 * How: on the first visit of each translation block the CPU's block hook
 * scans the block's bytes (read through the guest's paging) for these
 * opcodes; for each one found it adds a UC_HOOK_CODE bounded to that
 * instruction and its prefixes, drops the block from Unicorn's cache and
 * restarts it.  The code hook emulates an exact match and writes RIP
 * past it, which ends the block (the rest of the block counts again as
 * the block it becomes).  CPUID is Unicorn's CPUID insn hook over the
 * values of a second, private engine of the same CPU model.
 * Native hooks: Unicorn versions after 2.1.4 may accept RDMSR/RDTSC insn
 * hooks; the trap asks the library at run time (uc_version(), then a
 * probe) and reports it (intc_uc_trap_info_get), but uses the scan on
 * every version (correct everywhere; 2.0.1 has no native hooks).
 * Code that changes: the scans, Unicorn's translations and the cached
 * block counts are forgotten by intc_uc_load() (every CPU), by a SIPI
 * (that CPU) and by CPUID on the CPU that executes it.  CPUID is
 * serializing (SDM 9.1.3, cross-modifying code): a CPU about to run code
 * that another CPU wrote must execute CPUID after the write and before
 * the code, as the SDM requires of real hardware; otherwise it may run
 * its stale translation.  A CPU that rewrites its own code gets the new
 * code from Unicorn, but a trapped instruction newly written into a
 * block already scanned is run by Unicorn natively unless the CPU
 * executes CPUID first (SDM 9.1.2 recommends a serializing instruction
 * there too).
 * Costs (measured on the build host, test_uc_trap bench): the block
 * scan roughly halves the speed of plain code that runs in short loops
 * against no hook (the core's own block hook costs a third); an emulated
 * RDMSR is ~130 ns; a first visit of a block with a trapped instruction
 * is retranslated once more.  Each CPU holds a second Unicorn engine
 * for CPUID (~3 MB RSS).  With more than one CPU, CPUID drops the CPU's
 * translations of all RAM (~0.1 ms per 16 MiB): keep it out of hot
 * loops.
 *
 * Not emulated: SMI (taken and dropped), ExtINT (no 8259: taken and
 * dropped), MOV SS/POP SS interrupt shadows, 16-bit tasks and gates, the
 * virtual-8086 mode extensions (CR4.VME: interrupt redirection, VIF).
 *
 * ---------------------------------------------------------------------
 * Modes.  What Unicorn 2.0.1 does with x86 operating modes, each fact
 * established by the test uc_modes (integrations/unicorn/tests/
 * test_modes.c and modes.s):
 *   F1  A UC_MODE_64 engine runs compatibility-mode code (a CS with
 *       L = 0 under EFER.LMA = 1) as 32-bit code.
 *   F2  Guest instructions leave long mode the SDM 9.8.5.4 way and the
 *       engine then runs legacy 32-bit protected mode correctly (IRETD
 *       included).  Because the entry state has paging off, the guest
 *       must turn paging on first (4-level, PAE, CR0.PG), far-jump to a
 *       32-bit code segment, clear CR0.PG (this clears EFER.LMA) and
 *       then EFER.LME: examples/unicorn/fw/pm32.s does exactly that.
 *   F3  Guest instructions continue to real-address mode (a 16-bit
 *       segment, CR0.PE = 0, far jump): real-mode addressing, IRET and
 *       INT n (to UC_HOOK_INTR, RIP after it) work; RIP reads as IP.
 *   F4  Writing CR0/EFER through the API does not leave long mode
 *       (EFER.LMA stays set), so the library cannot put an engine in
 *       another mode by register writes.
 *   F5  In real mode, writing CS through the API changes the selector
 *       but not the hidden base, so neither a SIPI start at CS = V << 8
 *       nor IVT delivery can be done by register writes in a UC_MODE_64
 *       engine; only a far transfer executed by the guest loads both.
 *   F6  A UC_MODE_16 engine loads CS << 4 on a CS write and runs real
 *       mode; a UC_MODE_32 engine runs 32-bit code (but cannot reach
 *       long mode by guest code, as the firmware here needs).  The library uses UC_MODE_64 engines
 *       only: by F1-F3 they reach every mode through guest code.
 *   F7  uc_context_save/restore keep the hidden segment state: a
 *       restored real-mode context whose CS base is 0xFFFF0000 with
 *       CS = F000 fetches at 0xFFFF0000 + IP (uc_sipi_realmode and every
 *       SIPI example).
 *   F8  Setting CR0.PE through the API in real mode, writing CS with a
 *       GDT in place and clearing PE again does not load the CS base
 *       either (a one-off experiment while designing real-mode delivery,
       not part of uc_modes).
 *   F9  A UC_HOOK_BLOCK address is linear (CS.base + IP), while RIP
 *       reads and writes are IP (F3): the library converts with the hidden
 *       CS base (see "The hidden CPU state"; without it: CS << 4 in real
 *       mode, 0xFFFF0000 on the reset page, 0 in protected and long mode)
 *       where it writes RIP back, in the INT n look-back, the HLT and #UD
 *       checks and the trap module.
 *   F10 With paging on, Unicorn 2.0.1 walks the guest's page tables for
 *       the guest's own loads and stores (it sets the accessed and dirty
 *       bits) but then accesses physical = linear, and a linear address
 *       outside its memory map (RAM, APIC, IOAPIC, device windows) stops
 *       the machine (INTC_UC_STOP_UNMAPPED) whatever the tables say.
 *       Delivery walks the tables as the SDM says, so where the guest
 *       maps linear != physical the guest and the delivery see different
 *       bytes: under 2.0.1, firmware must identity-map what its own
 *       instructions touch (fw/pm32_paging.s reaches its non-identity
 *       IDT and stack pages through identity aliases of their physical
 *       pages).
 *   F11 In protected mode, writing DS, CS or SS through the API changes
 *       the selector only: the descriptor cache (base, limit, D/B) and
 *       the CPL stay.  So no delivery that changes CS's descriptor or
 *       the CPL can be done by register writes.
 *   F12 An IRET executed with EFLAGS.NT = 1 (NT written through the API)
 *       is a full task switch (SDM 7.3) to the TSS that the current
 *       TSS's link names, which must be busy: it reads the whole new TSS
 *       before it saves the current state (EIP after the IRET) into the
 *       current TSS, so a TSS linked to itself loads what it held; it
 *       clears the old descriptor's busy bit, loads TR, LDTR, CR3
 *       (paging on), EFLAGS, EIP, the general and segment registers with
 *       descriptors and CPL, sets CR0.TS and clears DR7's local enables
 *       (L0-L3, SDM 17.2.4).  TR reads back (uc_x86_mmr)
 *       with the descriptor's type in bits 8-12 of its flags; TR, LDTR
 *       and GDTR written through the API take selector, base, limit and
 *       flags as given.
 *   F13 IRETD at CPL 0 with VM = 1 in the popped EFLAGS enters
 *       virtual-8086 mode (bases selector << 4); there INT n with
 *       IOPL < 3 reaches UC_HOOK_INTR as #GP (13) with RIP at the INT,
 *       with IOPL 3 as vector n with RIP after it.  After an API write of
 *       EFLAGS with VM = 0 the CPU is in protected mode with the
 *       virtual-8086 segment caches at CPL 3, where an IRET with NT = 1
 *       (F12) works.
 *   F14 SYSENTER does not leave virtual-8086 mode (Unicorn 2.0.1 runs
 *       its instruction hooks instead): not a way out.
 * Conventions that follow: the BSP starts in the 64-bit entry state
 * above; APs start in real mode at the SIPI page (F5, F7: a guest-
 * executed far jump from the engine's reset page); firmware that lives
 * in 32-bit protected mode enters it through its own short trampoline
 * (F2); real-mode delivery borrows 5 bytes of RAM for a guest-executed
 * far jump (F5, F8); task gates and delivery from virtual-8086 mode
 * borrow 1 byte for a guest-executed IRET with NT = 1 (F11-F13).
 */
#ifndef INTC_UC_H
#define INTC_UC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <intc/intc.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libintc-uc is versioned with libintc (the same INTC_VERSION_*). */
INTC_API unsigned intc_uc_version(void);

typedef struct intc_uc intc_uc;
struct uc_struct; /* Unicorn's uc_engine */

#define INTC_UC_MAX_CPUS 64u
#define INTC_UC_IOAPIC_BASE 0xfec00000ull
#define INTC_UC_IOAPIC_STRIDE 0x1000ull
#define INTC_UC_PORT_CONSOLE 0xe9u
#define INTC_UC_PORT_EXIT 0xf4u
#define INTC_UC_EXIT_PASS 0x600du
#define INTC_UC_DEFAULT_ENTRY 0x10000ull

/* Why intc_uc_run() returned. */
#define INTC_UC_STOP_MAP(X)                                                 \
    /* not run yet */                                                       \
    X(NONE, "none")                                                         \
    /* guest OUT to port 0xF4: code = value */                              \
    X(EXIT, "exit")                                                         \
    /* every CPU halted or waiting for SIPI, nothing pending that can     \
       wake one, no timer armed (resumable: a device may raise a line     \
       or send an MSI first; run again with nothing changed and it        \
       stops the same way at once) */                                     \
    X(ALL_HALTED, "all_halted")                                             \
    /* the run's instruction budget is spent (resumable) */                 \
    X(INSN_LIMIT, "insn_limit")                                             \
    /* the next thing to happen lies past the run's time limit             \
       (resumable) */                                                       \
    X(TIME_LIMIT, "time_limit")                                             \
    /* intc_uc_request_stop() (resumable) */                                \
    X(REQUESTED, "requested")                                               \
    /* cpu: a fault while delivering #DF; code = the vector */              \
    X(TRIPLE_FAULT, "triple_fault")                                         \
    /* cpu: access to an address with nothing behind it; code = the       \
       uc_err, rip = where the CPU stopped */                               \
    X(UNMAPPED, "unmapped")                                                 \
    /* cpu: something this library does not emulate (see above); code   \
       says what (enum intc_uc_unsupported) */                              \
    X(UNSUPPORTED, "unsupported")                                           \
    /* cpu: Unicorn returned an error not covered above; code = uc_err */  \
    X(EMU_ERROR, "emu_error")

typedef enum intc_uc_stop {
#define INTC_UC_STOP_ENUM_(n, s) INTC_UC_STOP_##n,
    INTC_UC_STOP_MAP(INTC_UC_STOP_ENUM_)
#undef INTC_UC_STOP_ENUM_
    INTC_UC_STOP_COUNT_
} intc_uc_stop;

/* INTC_UC_STOP_UNSUPPORTED codes. */
enum intc_uc_unsupported {
    INTC_UC_UNSUP_MODE = 1,  /* real mode with the code outside RAM; a
                                task switch or virtual-8086 delivery
                                that could not be completed (uc.h,
                                legacy protected mode) */
    INTC_UC_UNSUP_BSP_INIT,  /* INIT taken by the BSP */
    INTC_UC_UNSUP_APIC_BASE, /* APIC page moved onto RAM or a device */
    INTC_UC_UNSUP_NOT_HLT,   /* Unicorn stopped with no reason, not at HLT */
    INTC_UC_UNSUP_GATE       /* a 16-bit gate in the IDT, a task gate to
                                or from a 16-bit TSS */
};

typedef struct intc_uc_stop_info {
    intc_uc_stop reason;
    uint32_t cpu;     /* the CPU concerned, or INTC_NO_CPU */
    uint64_t code;    /* per reason, see INTC_UC_STOP_MAP */
    uint64_t rip;     /* that CPU's RIP, 0 if no CPU */
    uint64_t time_ns; /* that CPU's clock (else the latest clock) */
    uint64_t insns;   /* instructions retired by all CPUs so far, plus
                         one per delivery through the IDT (the budget
                         max_insns counts) */
} intc_uc_stop_info;

/* Events: libintc's own (type INTC_UC_EV_INTC, in .intc) and the
   machine's.  cpu (INTC_NO_CPU if none), time_ns and insns (cpu's
   retired count; all CPUs' when none) are always filled.  time_ns is
   cpu's clock for the machine's events; for libintc's it is the clock
   of the CPU being run or serviced, the cause (an IPI is stamped with
   its sender's time, also at its halted target). */
#define INTC_UC_EVENT_MAP(X)                                                \
    /* a libintc event (.intc) */                                           \
    X(INTC, "intc")                                                         \
    /* vector delivered through the IDT: rip = return RIP, data = kind    \
       (enum intc_uc_kind), data2 = error code */                           \
    X(DELIVER, "deliver")                                                   \
    /* CPU executed HLT; rip = after it */                                  \
    X(HALT, "halt")                                                         \
    /* INIT taken: the CPU waits for SIPI */                                \
    X(INIT, "init")                                                         \
    /* SIPI taken: vector = SIPI vector, rip = start address */             \
    X(START, "start")                                                       \
    /* the machine stopped: data = reason, data2 = code */                  \
    X(STOP, "stop")

typedef enum intc_uc_event_type {
#define INTC_UC_EV_ENUM_(n, s) INTC_UC_EV_##n,
    INTC_UC_EVENT_MAP(INTC_UC_EV_ENUM_)
#undef INTC_UC_EV_ENUM_
    INTC_UC_EV_COUNT_
} intc_uc_event_type;

enum intc_uc_kind {
    INTC_UC_KIND_EXTERNAL = 0, /* from the Local APIC (INTR) */
    INTC_UC_KIND_NMI = 1,
    INTC_UC_KIND_EXCEPTION = 2, /* raised by an instruction or delivery */
    INTC_UC_KIND_SOFTWARE = 3   /* INT n, INT3, INTO */
};

typedef struct intc_uc_event {
    intc_uc_event_type type;
    uint32_t cpu;
    uint64_t time_ns;
    uint64_t insns;
    int32_t vector; /* -1 if none */
    uint64_t rip;
    uint64_t data;
    uint64_t data2;
    intc_event intc; /* INTC_UC_EV_INTC only */
} intc_uc_event;

/* Configuration: fill with intc_uc_config_init(), then change. */
#define INTC_UC_CONFIG_VERSION 1u
typedef struct intc_uc_config {
    unsigned version;      /* INTC_UC_CONFIG_VERSION */
    /* The libintc machine: CPUs and their APIC IDs, BSP, IOAPICs (at
       INTC_UC_IOAPIC_BASE + 0x1000 * index), IOMMU, timer and TSC
       rates.  Copied.  n_cpus 1..INTC_UC_MAX_CPUS.  NULL: libintc's
       defaults with n_cpus CPUs and one 24-pin version-0x20 IOAPIC
       (ID n_cpus, GSI 0). */
    const intc_machine_config *intc;
    uint32_t n_cpus;       /* used when intc is NULL; default 1 */
    uint64_t ram_size;     /* bytes, multiple of 4 KiB, 64 KiB up to
                              0xFEC00000; default 16 MiB */
    uint64_t entry;        /* BSP start address; default 0x10000 */
    uint32_t insn_ns;      /* virtual ns per instruction, 1..1000000;
                              default 1 */
    uint64_t quantum_ns;   /* longest slice, >= 1; default 10000 */
    bool sipi_64;          /* false (default): an AP starts in real mode
                              at the SIPI page, as on hardware; true: in
                              the 64-bit entry state at V << 12 (the
                              older convention, "Entry state") */

    /* Optional callbacks; user is passed back.  event sees every event
       (libintc's included), console every byte OUT to port 0xE9. */
    void (*event)(void *user, const intc_uc_event *ev);
    void (*console)(void *user, uint32_t cpu, uint8_t byte);
    void *user;
} intc_uc_config;

INTC_API void intc_uc_config_init(intc_uc_config *cfg);

/*
 * Create a machine: RAM zero-filled, every CPU in the entry state, the
 * BSP runnable at cfg->entry, the APs waiting for SIPI, nothing run.
 * NULL on failure with *err (if err is non-NULL): INTC_ERR_INVAL for a
 * bad config (each field checked), INTC_ERR_VERSION for an unknown
 * config version, INTC_ERR_NOMEM, INTC_ERR_UNSUPPORTED when Unicorn
 * refuses to create an engine or map memory; libintc's own errors for
 * its config.  Nothing is leaked on failure.
 */
INTC_API intc_uc *intc_uc_new(const intc_uc_config *cfg, intc_err *err);

/* Free the machine, its engines and RAM.  NULL is a no-op.  Not from a
   callback (ignored). */
INTC_API void intc_uc_free(intc_uc *m);

/*
 * Copy len bytes into guest RAM at gpa (the whole range inside RAM, else
 * INTC_ERR_RANGE) and forget every CPU's translated code.  Between runs
 * only (INTC_ERR_BUSY from a callback).
 */
INTC_API intc_err intc_uc_load(intc_uc *m, uint64_t gpa, const void *data,
                               size_t len);

/* Read guest RAM (INTC_ERR_RANGE outside it).  Safe from callbacks. */
INTC_API intc_err intc_uc_read(intc_uc *m, uint64_t gpa, void *buf,
                               size_t len);

/*
 * Run until a stop condition (INTC_UC_STOP_MAP).  max_insns (0: no
 * limit) bounds the instructions retired by all CPUs in this call,
 * checked at block boundaries (so it may be exceeded by one block);
 * max_ns (0: no limit) is a virtual-time horizon (an absolute clock
 * value, not a duration): the run stops before it would run or wake a
 * CPU at a clock at or beyond it, and no slice runs past it.  *info (may be NULL)
 * receives the stop.  ALL_HALTED, INSN_LIMIT, TIME_LIMIT and REQUESTED
 * stops may be resumed by calling again; after any other stop intc_uc_run() returns
 * INTC_ERR_INVAL and the same *info.  Returns INTC_OK when it ran (the
 * stop reason says why it returned), INTC_ERR_BUSY from a callback,
 * INTC_ERR_INVAL for m NULL.
 */
INTC_API intc_err intc_uc_run(intc_uc *m, uint64_t max_insns,
                              uint64_t max_ns, intc_uc_stop_info *info);

/* From a callback inside intc_uc_run(): stop at the next block boundary
   (INTC_UC_STOP_REQUESTED).  Outside a run: nothing. */
INTC_API void intc_uc_request_stop(intc_uc *m);

/* CPU state (between runs or from callbacks). */
typedef enum intc_uc_cpu_state {
    INTC_UC_CPU_RUNNING = 0,
    INTC_UC_CPU_HALTED,
    INTC_UC_CPU_WAIT_SIPI
} intc_uc_cpu_state;

typedef struct intc_uc_cpu_info {
    intc_uc_cpu_state state;
    uint64_t rip;
    uint64_t time_ns;     /* the CPU's virtual clock */
    uint64_t insns;       /* instructions retired */
    uint64_t delivered;   /* vectors delivered through the IDT */
    uint64_t deadline_ns; /* armed APIC timer, UINT64_MAX if none */
} intc_uc_cpu_info;

INTC_API intc_err intc_uc_cpu_info_get(intc_uc *m, uint32_t cpu,
                                       intc_uc_cpu_info *out);

/* CPU cpu's trap module (see "Instructions Unicorn 2.0.1 cannot hook"):
   counters since the machine was created and what the run-time
   detection found.  Between runs or from callbacks; INTC_ERR_RANGE for
   a CPU out of range. */
typedef struct intc_uc_trap_info {
    uint64_t blocks_scanned; /* first visits of blocks, scanned */
    uint64_t restarts;       /* blocks dropped and restarted to hook */
    uint64_t hooks_live;     /* UC_HOOK_CODE hooks installed now */
    uint64_t emulated;       /* RDMSR, WRMSR, RDTSC(P), MOV CR8 emulated */
    uint64_t native;         /* trapped instructions left to Unicorn */
    uint64_t faults;         /* #GP and #UD raised */
    uint64_t cpuid;          /* CPUID instructions patched */
    bool native_msr_hooks;   /* this Unicorn accepts RDMSR insn hooks */
    bool native_tsc_hooks;   /* this Unicorn accepts RDTSC insn hooks */
    bool hidden_state;       /* the hidden CPU state is read (error
                                codes, segment bases; see above) */
} intc_uc_trap_info;

INTC_API intc_err intc_uc_trap_info_get(intc_uc *m, uint32_t cpu,
                                        intc_uc_trap_info *out);

/* The libintc machine inside (its host ops are this library's: do not
   replace them).  Safe from callbacks. */
INTC_API intc_machine *intc_uc_intc(intc_uc *m);
INTC_API uint32_t intc_uc_cpu_count(const intc_uc *m);
/* CPU cpu's Unicorn engine, for reading and writing its registers
   between runs; NULL if out of range.  Hooks added to it must not stop
   the engine or write RIP (the scheduler and the trap module own both).
   Code written into RAM with uc_mem_write on it is not seen by the trap
   module: use intc_uc_load(). */
INTC_API struct uc_struct *intc_uc_engine(intc_uc *m, uint32_t cpu);

/*
 * Devices.  A device model maps an MMIO window on every CPU: accesses
 * arrive as read/write calls with the CPU index, the offset in the window
 * and the size (1, 2 or 4; Unicorn splits 8-byte and wider accesses into
 * 4-byte pieces, low first).  The window must be 4 KiB aligned, a
 * multiple of 4 KiB, outside RAM, the IOAPICs and 0xFEE00000 (else
 * INTC_ERR_INVAL).  Between runs only.  At most 16 windows
 * (INTC_ERR_NOSPC).
 */
typedef struct intc_uc_mmio_ops {
    uint64_t (*read)(void *opaque, uint32_t cpu, uint64_t off,
                     unsigned size);
    void (*write)(void *opaque, uint32_t cpu, uint64_t off, unsigned size,
                  uint64_t val);
} intc_uc_mmio_ops;

INTC_API intc_err intc_uc_map_mmio(intc_uc *m, uint64_t gpa, uint64_t size,
                                   const intc_uc_mmio_ops *ops,
                                   void *opaque);

/* Drive GSI gsi (an IOAPIC input, logically asserted or not) and send an
   interrupt message (through the IOMMU when remapping is on) with the
   device's requester id: thin, documented wrappers of
   intc_machine_set_gsi() and intc_msi_send().  Safe from callbacks; a CPU
   they make runnable runs after the current slice. */
INTC_API intc_err intc_uc_set_gsi(intc_uc *m, uint32_t gsi, bool asserted);
INTC_API intc_err intc_uc_msi_send(intc_uc *m, uint64_t addr, uint32_t data,
                                   uint16_t source_id);

/*
 * The device API (integrations/unicorn/src/device.c).  A device model is
 * host code that
 *   - maps its registers with intc_uc_map_mmio();
 *   - drives its IOAPIC input with intc_uc_set_gsi() (logically: true =
 *     the device requests service; an active-low PCI INTx pin is wired
 *     as such in the IOAPIC config, INTC_PIN_ACTIVE_LOW | INTC_PIN_LEVEL,
 *     and libintc applies the polarity the guest programs in the RTE);
 *   - owns an MSI-X table: intc_msix_new(intc_uc_intc(m), nvec,
 *     requester_id, &err), mapped into guest MMIO with intc_uc_map_msix(),
 *     raised with intc_msix_notify() (the message goes out with the
 *     table's requester id, through interrupt remapping when it is on;
 *     Message Control lives in configuration space, which the device
 *     model exposes as it likes and forwards to intc_msix_set_control());
 *   - writes memory with intc_uc_dma_write(): guest RAM, or an MSI when
 *     the address is in the interrupt range (with its requester id, so
 *     VT-d source-id verification applies to it).
 * Device work happens in the model's MMIO callbacks (synchronously, at
 * the guest's access) or between runs; there is no device timer.
 */

/*
 * Map an MSI-X table and its PBA (PCIe base 7.7.2) as one window of size
 * bytes at gpa (intc_uc_map_mmio()'s rules: 4 KiB aligned, a multiple of
 * 4 KiB, one of the 16 windows): the table at offset 0, the PBA at
 * pba_off (8-byte aligned, < size; PCIe lets both share one 4 KiB page
 * as long as they do not overlap, which is the caller's to ensure:
 * pba_off >= 16 * nvec).  Reads and writes go to intc_msix_table_read()/
 * _write() and intc_msix_pba_read() (PBA writes are ignored, as in
 * hardware); an access straddling pba_off reads 0 and is ignored.  x
 * stays the caller's (free it after intc_uc_free(), or with the libintc
 * machine).  Between runs only (INTC_ERR_BUSY).  Errors: INTC_ERR_INVAL
 * (m or x NULL, pba_off misaligned or not below size, a bad window),
 * INTC_ERR_NOSPC (no window left), INTC_ERR_UNSUPPORTED (Unicorn refused
 * the mapping).
 */
INTC_API intc_err intc_uc_map_msix(intc_uc *m, uint64_t gpa, uint64_t size,
                                   intc_msix *x, uint64_t pba_off);

/*
 * Map the IOMMU's registers (libintc's register model, intc/iommu.h) at
 * gpa: 4 KiB for VT-d, 16 KiB for AMD-Vi.  INTC_UC_IOMMU_BASE is the
 * conventional place (a DMAR unit's register base on many Intel
 * chipsets); the firmware finds it there (there is no ACPI DMAR table).
 * Accesses go to intc_iommu_mmio_read()/_write(); what the model does not
 * decode reads 0.  Interrupt remapping reads the guest's IRT and posted
 * descriptors from guest RAM (libintc's dma_read is served by the RAM
 * buffer; outside RAM it fails, which VT-d reports as fault 0x23).
 * Between runs only.  INTC_ERR_UNSUPPORTED if the machine has no IOMMU
 * (intc config .iommu.kind), else as intc_uc_map_mmio().
 */
#define INTC_UC_IOMMU_BASE 0xfed90000ull
INTC_API intc_err intc_uc_map_iommu(intc_uc *m, uint64_t gpa);

/*
 * A memory write of len bytes at gpa by the device with requester id
 * source_id (bus << 8 | device << 3 | function).  In the interrupt range
 * (0xFEE00000-0xFEEFFFFF) it is an MSI: exactly one aligned dword (else
 * INTC_ERR_INVAL), sent with intc_msi_send() from source_id, so a
 * remappable message is looked up in the IRT and checked against the
 * IRTE's source-id qualifier, and a blocked one is recorded in the fault
 * registers; the result is intc_msi_send()'s.  Elsewhere it writes guest
 * RAM (INTC_ERR_RANGE if any byte is outside RAM; MMIO windows are not
 * reachable by DMA).  A DMA write does not invalidate code Unicorn has
 * translated from the bytes it changes: devices write data, not code.
 * Safe from callbacks.
 */
INTC_API intc_err intc_uc_dma_write(intc_uc *m, uint16_t source_id,
                                    uint64_t gpa, const void *buf,
                                    size_t len);

/* Names: "exit", "deliver"; "unknown" when out of range. */
INTC_API const char *intc_uc_stop_name(intc_uc_stop reason);
INTC_API const char *intc_uc_event_name(intc_uc_event_type type);

#ifdef __cplusplus
}
#endif

#endif /* INTC_UC_H */
