/*
 * libintc — the recorder and the replayer.
 *
 * A host switches recording on with one call; from then on every input
 * the machine receives is written, through a host callback, as a stream
 * of checksummed records: each call that takes the machine (MMIO and MSR
 * accesses with their results, INTA, pin and line changes, MSIs with
 * their source ids, timer expiries, device creation, snapshot loads...)
 * and every value the library reads from the host while serving it (each
 * now_ns() result, each dma_read() with its bytes and return code, each
 * dma_write() return code, the posted vectors folded into IRR).  The
 * stream starts with the machine's configuration, its devices and its
 * snapshot image, so recording can start at any point of a run.
 *
 * A replayer rebuilds the machine from a recording and issues the calls
 * again, serving the clock, guest memory and posted vectors from the
 * recording; it checks every result against the recorded one, so the
 * replayed machine ends in the same state (byte-identical
 * intc_machine_save() image) after the same event stream.  The format is
 * documented byte by byte in docs/recording.md.
 *
 * What is recorded: every call that takes the machine, i.e. every call
 * that would return INTC_ERR_BUSY from a restricted callback, plus
 * intc_msix_new/intc_msi_new (successful ones) and intc_msix_free/
 * intc_msi_free.  Not recorded: queries that change nothing (those
 * documented "safe from any callback", intc_msix_pba_read,
 * intc_msi_config_read, intc_machine_tsc); calls refused before they
 * start (INTC_ERR_INVAL for a NULL object or malformed arguments,
 * INTC_ERR_BUSY): they change nothing; intc_lapic_post(), which may run
 * on any thread: the vectors it posts are recorded where the APIC folds
 * them into IRR, as an input of the call that folds them.
 */
#ifndef INTC_RECORD_H
#define INTC_RECORD_H

#include "common.h"
#include "machine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Recording format version (docs/recording.md). */
#define INTC_RECORD_FORMAT 1u

/*
 * The host's sink: write len bytes at buf (the next bytes of the
 * recording, in order).  Return 0 on success, non-zero on failure.  A
 * restricted callback (common.h): it may run in the middle of an
 * operation and may only use the queries that are safe from any
 * callback.
 */
typedef int (*intc_record_fn)(void *ctx, const void *buf, size_t len);

/*
 * Start (write non-NULL) or stop (write NULL) recording m.
 *
 * Start: allocates the recorder's buffer (64 KiB, and a scratch block of
 * the snapshot's size while it writes the header) through the host's
 * allocator, then writes the header: format, the machine's configuration,
 * its MSI-X and MSI devices, its snapshot image (taken without folding
 * posted vectors, so starting changes nothing).  Records are buffered;
 * the buffer is handed to write() when it is full and at the end of each
 * recorded call, so when a call returns its records have been written.
 * INTC_ERR_INVAL when already recording (stop first) or m is NULL,
 * INTC_ERR_UNSUPPORTED for a machine driven by a replayer, INTC_ERR_NOMEM,
 * INTC_ERR_IO when write() failed (nothing is left on).
 *
 * Stop: writes the end record, hands the rest to write(), frees the
 * recorder.  Returns INTC_ERR_IO if that write failed, INTC_OK otherwise.
 * With nothing being recorded it returns, once, why the last recording
 * ended on its own (INTC_ERR_IO, or INTC_ERR_NOSPC for a record above
 * the format's 256 MiB limit), else INTC_OK.
 *
 * A failing write() ends the recording there: the call being recorded
 * completes normally (recording never changes what a call does or
 * returns), nothing more is written, the recorder is freed, and
 * intc_machine_recording() reports INTC_ERR_IO until the next
 * intc_machine_record().  The bytes written up to the failure end
 * without an end record; a replayer reports them as truncated.
 *
 * Both are refused from inside any callback, deferred or restricted
 * (INTC_ERR_BUSY), so a recording always starts and ends between two
 * outermost calls.  intc_machine_free() of a recording machine frees the
 * recorder without writing the end record.
 *
 * Cost: while recording is off, each recorded call tests one flag (a
 * predictable branch); each clock and guest-memory read, already a host
 * callback, tests it once more; each eoi() and apic_base_changed()
 * callback counts itself (one increment).  docs/recording.md has the
 * measured figures.
 */
INTC_API intc_err intc_machine_record(intc_machine *m, intc_record_fn write,
                                      void *ctx);

/* 1 while m is being recorded; 0 when not; INTC_ERR_IO when the last
   recording ended because write() failed (until the next
   intc_machine_record()).  0 for NULL.  Safe from any callback. */
INTC_API int intc_machine_recording(const intc_machine *m);

/* ---- replay ---- */

typedef struct intc_replay intc_replay;

/*
 * A replayer over the recording buf (len bytes, which must stay valid
 * and unchanged until intc_replay_free()).  It creates a machine with the
 * recorded configuration and devices and loads the recorded image.
 *
 * ops and host are the caller's callbacks, as for intc_machine_new()
 * (ops may be NULL): alloc serves every allocation of the replayer and
 * its machine; event, timer_arm and ioapic_timer_arm are forwarded as
 * they come (to watch the replayed run); kick, eoi and apic_base_changed
 * are forwarded too, but run where the recorded machine ran them (the
 * replayer installs them exactly when the recorded host had them) and
 * the replayer issues from inside them the calls the recorded host made
 * from inside them.  The clock and guest memory come from the recording:
 * now_ns, dma_read and dma_write are called only by intc_machine_tsc()
 * queries.  The callbacks must not call into the replayed machine except
 * for queries (a call that takes the machine is reported as
 * INTC_ERR_DIVERGED: it is not in the recording).
 *
 * Returns NULL only when r itself cannot be made: buf NULL, or
 * INTC_ERR_NOMEM, INTC_ERR_VERSION (ops version) in *err.  Otherwise
 * returns a replayer and *err (if non-NULL) says whether the beginning of
 * the recording was accepted: INTC_ERR_CORRUPT (truncated, damaged,
 * oversized or inconsistent records), INTC_ERR_VERSION (another format
 * version), INTC_ERR_INVAL (a configuration intc_machine_new() refuses),
 * INTC_ERR_NOMEM; on error intc_replay_errmsg() says why, the machine is
 * NULL and every step returns that error.  Free it with intc_replay_free().
 */
INTC_API intc_replay *intc_replay_new(const void *buf, size_t len,
                                      const intc_host_ops *ops, void *host,
                                      intc_err *err);

/*
 * Replay the next recorded call made by the host at the top level (and
 * the calls its deferred callbacks made).  Returns 1 when a call was
 * replayed, 0 at the end of the recording (its end record), or a
 * negative intc_err: INTC_ERR_CORRUPT for a damaged or truncated record,
 * INTC_ERR_DIVERGED when the machine did not do what the recording says
 * (another return code or value read, another number or kind of clock,
 * guest-memory or posted-vector reads, a callback that did not happen).
 * After an error every step returns it again; intc_replay_errmsg() names
 * the record (index and byte offset) and what differed.  The machine
 * stays valid (it may be inspected, saved or freed with the replayer)
 * but no longer follows the recording.  INTC_ERR_BUSY from inside a
 * callback of the replayed machine.
 */
INTC_API int intc_replay_step(intc_replay *r);

/* Step to the end: INTC_OK at the end record, or the first error. */
INTC_API intc_err intc_replay_run(intc_replay *r);

/* The replayed machine (owned by r: do not free it), NULL if the
   recording's beginning was refused. */
INTC_API intc_machine *intc_replay_machine(intc_replay *r);

/* The index of the next record to be read (0 = the first record after
   the 16-byte preamble) and, in *offset (if non-NULL), its byte offset
   in the recording.  After an error: the record that failed. */
INTC_API uint64_t intc_replay_position(const intc_replay *r, size_t *offset);

/* Why the last step failed, as a sentence ("record 12 (offset 4711,
   lapic_mmio_read cpu 1): returned value 0x20, recorded 0x30"); "" when
   nothing failed.  For diagnostics only: the wording is not ABI. */
INTC_API const char *intc_replay_errmsg(const intc_replay *r);

/* Free r and its machine.  NULL is a no-op.  Not from inside one of its
   machine's callbacks (ignored). */
INTC_API void intc_replay_free(intc_replay *r);


/* ---- reading a recording ---- */

/*
 * A recording is also readable record by record, without replaying it,
 * for converters and viewers (intc-sim --replay FILE --to-yaml turns one
 * into a scenario).  The reader checks each record's framing, checksum
 * and payload size; it does not check that the calls make sense (the
 * replayer does).
 */

/* Record types (docs/recording.md). */
enum intc_record_type {
    INTC_RECORD_CONFIG = 1,
    INTC_RECORD_DEVICE = 2,
    INTC_RECORD_IMAGE = 3,
    INTC_RECORD_CALL = 16,
    INTC_RECORD_CLOCK = 32,
    INTC_RECORD_DMA_READ = 33,
    INTC_RECORD_DMA_WRITE = 34,
    INTC_RECORD_FOLD = 35,
    INTC_RECORD_END = 127
};

/* The recorded calls: X(NAME, op number, name), as in docs/recording.md's
   table of ops.  Numbers are part of the format: only ever appended. */
#define INTC_RECORD_OPS(X)                                                  \
    X(LAPIC_MMIO_READ, 1, "lapic_mmio_read")                                \
    X(LAPIC_MMIO_WRITE, 2, "lapic_mmio_write")                              \
    X(LAPIC_MSR_READ, 3, "lapic_msr_read")                                  \
    X(LAPIC_MSR_WRITE, 4, "lapic_msr_write")                                \
    X(LAPIC_ACK, 5, "lapic_ack")                                            \
    X(LAPIC_TAKE, 6, "lapic_take")                                          \
    X(LAPIC_SET_TPR, 7, "lapic_set_tpr")                                    \
    X(LAPIC_SET_LINT, 8, "lapic_set_lint")                                  \
    X(LAPIC_RAISE_LVT, 9, "lapic_raise_lvt")                                \
    X(LAPIC_TIMER_EXPIRED, 10, "lapic_timer_expired")                       \
    X(LAPIC_SET_TSC_OFFSET, 11, "lapic_set_tsc_offset")                     \
    X(LAPIC_RESET, 12, "lapic_reset")                                       \
    X(LAPIC_SYNC_PIR, 13, "lapic_sync_pir")                                 \
    X(IOAPIC_MMIO_READ, 14, "ioapic_mmio_read")                             \
    X(IOAPIC_MMIO_WRITE, 15, "ioapic_mmio_write")                           \
    X(IOAPIC_SET_IRQ, 16, "ioapic_set_irq_source")                          \
    X(IOAPIC_TIMER_EXPIRED, 17, "ioapic_timer_expired")                     \
    X(MSI_SEND, 18, "msi_send")                                             \
    X(MSIX_NEW, 19, "msix_new")                                             \
    X(MSIX_FREE, 20, "msix_free")                                           \
    X(MSIX_TABLE_READ, 21, "msix_table_read")                               \
    X(MSIX_TABLE_WRITE, 22, "msix_table_write")                             \
    X(MSIX_SET_CONTROL, 23, "msix_set_control")                             \
    X(MSIX_NOTIFY, 24, "msix_notify")                                       \
    X(MSIX_RESET, 25, "msix_reset")                                         \
    X(MSI_NEW, 26, "msi_new")                                               \
    X(MSI_FREE, 27, "msi_free")                                             \
    X(MSI_CONFIG_WRITE, 28, "msi_config_write")                             \
    X(MSI_NOTIFY, 29, "msi_notify")                                         \
    X(MSI_RESET, 30, "msi_reset")                                           \
    X(IOMMU_MMIO_READ, 31, "iommu_mmio_read")                               \
    X(IOMMU_MMIO_WRITE, 32, "iommu_mmio_write")                             \
    X(IOMMU_REMAP, 33, "iommu_remap")                                       \
    X(IRQ_DELIVER, 34, "irq_deliver")                                       \
    X(IOMMU_SET_TABLE, 35, "iommu_set_table")                               \
    X(IOMMU_INVALIDATE, 36, "iommu_invalidate")                             \
    X(MACHINE_RESET, 37, "machine_reset")                                   \
    X(MACHINE_SAVE, 38, "machine_save")                                     \
    X(MACHINE_LOAD, 39, "machine_load")

enum intc_record_op {
#define INTC_RECORD_OP_ENUM_(name, val, str) INTC_RECORD_OP_##name = (val),
    INTC_RECORD_OPS(INTC_RECORD_OP_ENUM_)
#undef INTC_RECORD_OP_ENUM_
    INTC_RECORD_OP_END_
};

/* One record, decoded.  Which members mean something depends on type;
   pointers point into the recording. */
typedef struct intc_record_item {
    unsigned type;        /* enum intc_record_type */
    size_t offset;        /* of its first byte in the recording */
    /* IMAGE: the image; CALL: its variable part; DMA_READ (ok) and
       DMA_WRITE: the bytes; else NULL, 0 */
    const uint8_t *data;
    size_t data_len;
    /* CALL (docs/recording.md's table says what a0..a2, out mean) */
    unsigned op;          /* enum intc_record_op */
    bool nested;          /* made from a deferred callback */
    uint32_t obj;         /* CPU, IOAPIC or device unit */
    int32_t ret;
    uint64_t a0, a1, a2, out;
    /* CLOCK: cpu, value (now_ns's result); FOLD: cpu, pir, level;
       DMA_*: addr, len, ok (the host's access succeeded) */
    uint32_t cpu;
    uint64_t value;
    uint64_t addr;
    uint32_t len;
    bool ok;
    uint64_t pir[4], level[4];
    /* DEVICE: msix (else MSI), vectors (MSI-X nvec, MSI log2), addr64
       and mask (MSI), source_id, unit */
    bool msix, addr64, mask;
    uint16_t vectors, source_id;
    uint32_t unit;
    /* CONFIG: the configuration, apic_ids and ioapics NULL (see
       intc_record_config_arrays); host_ops: bit i set when the recorded
       host had member i of intc_host_ops after version */
    intc_machine_config config;
    uint32_t host_ops;
} intc_record_item;

/*
 * Read the record at *pos of the recording buf (len bytes) into *it and
 * move *pos past it.  Start with *pos = 0: the 16-byte preamble is
 * checked and skipped.  INTC_OK; INTC_ERR_CORRUPT for a truncated or
 * damaged record, one of the wrong size for its type, or bytes after the
 * END record (reading at *pos == len after END also gives it: nothing is
 * left); INTC_ERR_VERSION for another format; INTC_ERR_INVAL for NULL
 * arguments.  On error *pos stays.
 */
INTC_API intc_err intc_record_next(const void *buf, size_t len, size_t *pos,
                                   intc_record_item *it);

/*
 * The arrays of a CONFIG record: apic_ids (it->config.n_cpus entries)
 * and ioapics (it->config.n_ioapics entries; their pin_wiring points into
 * the recording).  Either may be NULL to skip it.  INTC_ERR_INVAL when it
 * is not a CONFIG record, INTC_ERR_CORRUPT when they do not fit it.
 */
INTC_API intc_err intc_record_config_arrays(const intc_record_item *it,
                                            uint32_t *apic_ids,
                                            intc_ioapic_config *ioapics);

/* An op's name ("lapic_mmio_read"), "?" if unknown. */
INTC_API const char *intc_record_op_name(unsigned op);

#ifdef __cplusplus
}
#endif

#endif /* INTC_RECORD_H */
