/*
 * libFuzzer target: the replayer (record.h, docs/recording.md).
 *
 * Input: byte 0 = mode, then a recording.  Mode bit 0: before replaying,
 * recompute the CRC of every record that frames (so mutations reach the
 * checks behind the checksum: configuration, devices, image, calls,
 * host inputs).  The replayer must refuse or replay every input without
 * crashing, leaking or looping: intc_replay_run() returns OK or one of
 * CORRUPT, DIVERGED, VERSION, INVAL, UNSUPPORTED, NOMEM with a message;
 * a machine it built passes intc_machine_check() whatever happened.
 * The replayer runs on the test kit's host (testkit/kit.h), whose
 * allocator checks every old_size and keeps the live byte count (nothing
 * may be live after intc_replay_free()) and whose event() checks each
 * event's type; the clock and guest memory come from the recording.
 * Recordings of more than FZ_MAX_CPUS CPUs are skipped (size, not
 * correctness).  Seeds: fuzz/corpus/fuzz_replay/ (gen_corpus: a short run
 * recorded on each fz_config configuration); regressions:
 * fuzz/regressions/fuzz_replay/.
 */
#include "fuzz_common.h"
#include "kit_rec.h"

/* The reader (intc_record_next) walks the same bytes: records in order,
   each inside the buffer, until the end record or an error; a recording
   the replayer ran to its end reads to its end too.  A CONFIG record's
   arrays are read as well. */
static void read_records(const uint8_t *b, size_t len, intc_err replayed)
{
    intc_record_item it;
    size_t pos = 0, prev = 0;
    intc_err e;

    while ((e = intc_record_next(b, len, &pos, &it)) == INTC_OK) {
        if (pos <= prev || pos > len || it.offset < prev ||
            (it.data && (it.data < b || it.data + it.data_len > b + len)))
            FZ_ABORT("intc_record_next: record at %zu out of order or "
                     "outside the recording", it.offset);
        prev = pos;
        if (it.type == INTC_RECORD_CONFIG &&
            it.config.n_cpus <= FZ_MAX_CPUS &&
            it.config.n_ioapics <= INTC_IOAPIC_MAX) {
            uint32_t ids[FZ_MAX_CPUS];
            intc_ioapic_config io[INTC_IOAPIC_MAX];
            if (intc_record_config_arrays(&it, ids, io) != INTC_OK)
                FZ_ABORT("intc_record_config_arrays refuses a record "
                         "intc_record_next accepted");
        }
        if (it.type == INTC_RECORD_END)
            break;
    }
    if (e != INTC_OK && e != INTC_ERR_CORRUPT && e != INTC_ERR_VERSION)
        FZ_ABORT("intc_record_next: %s", intc_err_name(e));
    if (replayed == INTC_OK && (e != INTC_OK || pos != len))
        FZ_ABORT("the replayer ran to the end, the reader stopped at %zu "
                 "(%s)", prev, intc_err_name(e));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *b;
    size_t len;
    kit_host *h;
    intc_replay *r;
    intc_err err;

    if (size < 1)
        return 0;
    len = size - 1;
    b = malloc(len ? len : 1);
    if (!b)
        return 0;
    memcpy(b, data + 1, len);
    if (data[0] & 1)
        kit_rec_fix_crcs(b, len);
    /* The CONFIG record's CPU count (preamble 16, frame 5). */
    if (len >= 25 && kit_rec_le32(b + 21) > FZ_MAX_CPUS) {
        free(b);
        return 0;
    }
    h = kit_host_new(true);
    if (!h)
        abort();
    h->max_events = 0; /* counted, not stored */
    r = intc_replay_new(b, len, &h->ops, h, &err);
    if (!r)
        FZ_ABORT("intc_replay_new: NULL (%s)", intc_err_name(err));
    if (!err)
        err = intc_replay_run(r);
    if (err != INTC_OK && err != INTC_ERR_CORRUPT &&
        err != INTC_ERR_DIVERGED && err != INTC_ERR_VERSION &&
        err != INTC_ERR_INVAL && err != INTC_ERR_UNSUPPORTED &&
        err != INTC_ERR_NOMEM)
        FZ_ABORT("replay: %s", intc_err_name(err));
    if (err && intc_replay_errmsg(r)[0] == '\0')
        FZ_ABORT("replay: %s without a message", intc_err_name(err));
    if (intc_replay_machine(r))
        fz_check(intc_replay_machine(r), "replay");
    intc_replay_free(r);
    read_records(b, len, err);
    if (h->live_bytes || h->live_blocks)
        FZ_ABORT("replay: %zu bytes in %zu blocks live after "
                 "intc_replay_free",
                 h->live_bytes, h->live_blocks);
    kit_host_free(h);
    free(b);
    return 0;
}
