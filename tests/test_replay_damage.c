/*
 * The replayer against every call kind and against damaged recordings
 * (record.h, docs/recording.md).  A recording is host input: whatever it
 * holds, intc_replay_run() ends OK or with one of the documented errors
 * and a message naming the record, never a crash, a leak or a machine
 * that fails intc_machine_check().
 *
 *  - every recorded op, each made once (device creation and removal in
 *    the middle of the recording included), replays to a byte-identical
 *    image;
 *  - every byte of a small recording, changed two ways with each
 *    record's CRC then fixed (so the change reaches the checks behind
 *    the checksum: configuration, devices, image, calls, host inputs),
 *    is refused with a documented error and a message or still replays.
 */
#include "harness.h"
#include "kit_rec.h"

#include <stdlib.h>
#include <string.h>

#define GM 0x100000ull /* guest memory: the IRT */

static uint8_t *image(intc_machine *m, size_t *len)
{
    intc_err e = INTC_OK;
    uint8_t *img = kit_save(m, len, &e);

    assert_int_equal(e, INTC_OK);
    return img;
}

/* A 2-CPU machine with an IOAPIC (two level pins), VT-d and an MSI-X
   function, software-enabled, VT-d remapping through an IRT of one
   entry in guest memory. */
static intc_machine *machine(th_host *h)
{
    static const uint8_t wiring[24] = {[16] = INTC_PIN_LEVEL,
                                       [17] = INTC_PIN_LEVEL};
    const intc_ioapic_config io = {.id = 2, .version = 0x20, .n_pins = 24,
                                   .source_id = 0xf0f8,
                                   .pin_wiring = wiring};
    intc_machine_config cfg;
    intc_machine *m;
    uint8_t *mem;

    intc_machine_config_init(&cfg);
    cfg.n_cpus = 2;
    cfg.ioapics = &io;
    cfg.n_ioapics = 1;
    cfg.iommu.kind = INTC_IOMMU_VTD;
    th_full_ops(h);
    mem = kit_region_add(h, GM, 0x1000);
    assert_non_null(mem);
    /* IRTE 0: present, fixed, vector 0x51, destination APIC 1 (VT-d
       9.10: P bit 0, vector 23:16, destination 63:32). */
    mem[0] = 1;
    mem[2] = 0x51;
    mem[4] = 1;
    m = th_machine(h, &cfg);
    for (uint32_t c = 0; c < 2; c++)
        assert_int_equal(intc_lapic_mmio_write(intc_machine_lapic(m, c),
                                               INTC_LAPIC_SVR, 4, 0x1ff),
                         INTC_OK);
    return m;
}

/* Each recorded op once. */
static void every_op(intc_machine *m, th_host *h)
{
    intc_lapic *l0 = intc_machine_lapic(m, 0), *l1 = intc_machine_lapic(m, 1);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_iommu *u = intc_machine_iommu(m);
    intc_msix *x = intc_msix_new(m, 2, 0x0100, NULL);
    intc_msi *d = intc_msi_new(m, 1, true, true, 0x0200, NULL);
    uint64_t v = 0, pir[4] = {0, 1ull << 3, 0, 0};
    intc_irq irq;
    uint8_t sv;
    uint8_t *img;
    size_t len;

    assert_non_null(x);
    assert_non_null(d);
    intc_lapic_mmio_read(l0, INTC_LAPIC_PPR, 4, &v);
    intc_lapic_msr_write(l1, 0x1b, 0xfee00c00u); /* x2APIC */
    intc_lapic_msr_read(l1, 0x802, &v);
    intc_lapic_set_tpr(l0, 0x10);
    intc_lapic_set_lint(l0, 1, true);
    intc_lapic_raise_lvt(l0, INTC_LVT_THERMAL);
    intc_lapic_mmio_write(l0, INTC_LAPIC_TIMER_ICR, 4, 100);
    h->now += 1000;
    intc_lapic_timer_expired(l0, h->now);
    intc_lapic_set_tsc_offset(l0, 12345);
    intc_lapic_take(l0, INTC_PEND_NMI, &sv);
    intc_ioapic_mmio_write(io, INTC_IOAPIC_IOREGSEL, 4, 0x10 + 2 * 16);
    intc_ioapic_mmio_write(io, INTC_IOAPIC_IOWIN, 4, 0x8041);
    intc_ioapic_mmio_read(io, INTC_IOAPIC_IOWIN, 4, &v);
    intc_ioapic_set_irq_source(io, 16, 1, true);
    intc_ioapic_timer_expired(io, h->now);
    intc_msi_send(m, 0xfee00000u, 0x42, 0x0100, NULL);
    intc_msix_table_write(x, 0, 4, 0xfee00000u);
    intc_msix_table_write(x, 8, 4, 0x43);
    intc_msix_table_read(x, 8, 4, &v);
    intc_msix_set_control(x, true, false);
    intc_msix_notify(x, 0, NULL);
    intc_msix_notify(x, 1, NULL); /* masked: pending */
    intc_msi_config_write(d, 4, 4, 0xfee00000u);
    intc_msi_notify(d, 0, NULL);
    for (int i = 0; i < 4; i++) {
        if (intc_lapic_ack(l0) >= 0)
            intc_lapic_mmio_write(l0, INTC_LAPIC_EOI, 4, 0);
        if (intc_lapic_ack(l1) >= 0)
            intc_lapic_msr_write(l1, 0x80b, 0);
    }
    intc_iommu_mmio_read(u, INTC_VTD_VER, 4, &v);
    intc_iommu_set_table(u, GM, true, false);
    intc_iommu_remap(u, 0x0100, 0xfee00010u, 0, &irq); /* handle 0 */
    intc_irq_deliver(m, &irq, NULL);
    intc_iommu_invalidate(u, 0, 0);
    intc_lapic_post(l0, 0x60, false);
    intc_lapic_sync_pir(l0, pir);
    intc_lapic_sync_pir(l0, NULL);
    intc_msix_reset(x);
    intc_msi_reset(d);
    intc_lapic_reset(l1, true);
    img = image(m, &len);
    intc_machine_reset(m);
    assert_int_equal(intc_machine_load(m, img, len), INTC_OK);
    assert_int_equal(intc_machine_load(m, img, len / 2), INTC_ERR_CORRUPT);
    free(img);
    intc_msi_free(d);
    intc_msix_free(x);
}

/* Record every_op from the machine's creation on. */
static void record(th_host *h, kit_sink *s)
{
    intc_machine *m = machine(h);

    assert_int_equal(intc_machine_record(m, kit_sink_write, s), INTC_OK);
    every_op(m, h);
    assert_int_equal(intc_machine_record(m, NULL, NULL), INTC_OK);
    intc_machine_free(m);
}

static void test_every_op_replays(void **state)
{
    th_host *h = *state;
    kit_sink s = {0};
    kit_host *k = kit_host_new(true);
    intc_machine *m = machine(h);
    intc_replay *r;
    intc_err e = INTC_OK;
    uint8_t *a, *b;
    size_t la, lb;

    assert_non_null(k);
    assert_int_equal(intc_machine_record(m, kit_sink_write, &s), INTC_OK);
    every_op(m, h);
    a = image(m, &la);
    assert_int_equal(intc_machine_record(m, NULL, NULL), INTC_OK);
    r = intc_replay_new(s.p, s.n, &k->ops, k, &e);
    assert_int_equal(e, INTC_OK);
    if (intc_replay_run(r) != INTC_OK)
        fail_msg("replay: %s", intc_replay_errmsg(r));
    b = image(intc_replay_machine(r), &lb);
    /* every_op's save took the image of a (the recorded save folds
       the same posted vectors in the replay) */
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(a);
    free(b);
    intc_replay_free(r);
    intc_machine_free(m);
    kit_host_free(k);
    free(s.p);
}

/* Replay buf: a documented outcome, a message with every error, a
   machine that passes its check. */
static void replay_checked(const uint8_t *buf, size_t len, size_t at)
{
    kit_host *k = kit_host_new(false);
    intc_replay *r;
    intc_err e = INTC_OK;
    char msg[256];

    assert_non_null(k);
    r = intc_replay_new(buf, len, &k->ops, k, &e);
    assert_non_null(r);
    if (e == INTC_OK)
        e = intc_replay_run(r);
    if (e != INTC_OK && e != INTC_ERR_CORRUPT && e != INTC_ERR_DIVERGED &&
        e != INTC_ERR_VERSION && e != INTC_ERR_INVAL &&
        e != INTC_ERR_UNSUPPORTED)
        fail_msg("byte %zu: replay ended with %s", at, intc_err_name(e));
    if (e != INTC_OK && !intc_replay_errmsg(r)[0])
        fail_msg("byte %zu: %s without a message", at, intc_err_name(e));
    if (intc_replay_machine(r) &&
        intc_machine_check(intc_replay_machine(r), msg, sizeof msg) != INTC_OK)
        fail_msg("byte %zu: the replayed machine fails its check: %s", at,
                 msg);
    intc_replay_free(r);
    assert_int_equal(k->live_blocks, 0);
    kit_host_free(k);
}

static void test_every_byte_changed(void **state)
{
    static const uint8_t flips[] = {0x01, 0x80};
    kit_sink s = {0};
    uint8_t *b;

    record(*state, &s);
    b = malloc(s.n);
    assert_non_null(b);
    for (size_t i = 16; i < s.n; i++)
        for (size_t f = 0; f < sizeof flips; f++) {
            memcpy(b, s.p, s.n);
            b[i] ^= flips[f];
            kit_rec_fix_crcs(b, s.n);
            replay_checked(b, s.n, i);
        }
    free(b);
    free(s.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_op_replays, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_every_byte_changed, th_setup,
                                        th_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
