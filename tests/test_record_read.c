/*
 * Reading a recording record by record (record.h intc_record_next,
 * intc_record_config_arrays; docs/recording.md "Format"): the records of
 * a small run come out in the documented order with the documented
 * fields, and a damaged, truncated or foreign recording is refused.
 */
#include "harness.h"
#include "kit_rec.h"

#include <stdlib.h>
#include <string.h>

/* Two CPUs (IDs 4 and 9), one IOAPIC with two level pins, one MSI-X
   function; recorded: a TPR write, an MSI, an MSR read, a pin. */
static void record_small(th_host *h, kit_sink *s)
{
    static const uint32_t ids[] = {4, 9};
    static const uint8_t wiring[24] = {[20] = INTC_PIN_LEVEL,
                                       [21] = INTC_PIN_LEVEL |
                                              INTC_PIN_ACTIVE_LOW};
    intc_ioapic_config io = {.id = 3, .version = 0x20, .n_pins = 24,
                             .gsi_base = 0, .source_id = 0xf0f8,
                             .pin_wiring = wiring};
    intc_machine_config cfg;
    intc_machine *m;
    intc_msix *x;
    uint64_t v = 0;

    intc_machine_config_init(&cfg);
    cfg.n_cpus = 2;
    cfg.apic_ids = ids;
    cfg.ioapics = &io;
    cfg.n_ioapics = 1;
    m = th_machine(h, &cfg);
    x = intc_msix_new(m, 4, 0x0300, NULL);
    assert_non_null(x);
    assert_int_equal(intc_machine_record(m, kit_sink_write, s), INTC_OK);
    assert_int_equal(intc_lapic_mmio_write(intc_machine_lapic(m, 0),
                                           INTC_LAPIC_TPR, 4, 0x20),
                     INTC_OK);
    assert_int_equal(intc_msi_send(m, 0xfee09000u, 0x41, 0x0300, NULL),
                     INTC_OK);
    assert_int_equal(intc_lapic_msr_read(intc_machine_lapic(m, 1),
                                         INTC_MSR_APIC_BASE, &v),
                     INTC_OK);
    assert_int_equal(intc_machine_set_gsi(m, 21, true), INTC_OK);
    assert_int_equal(intc_machine_record(m, NULL, NULL), INTC_OK);
    intc_msix_free(x);
    intc_machine_free(m);
}

static void test_records_in_order(void **state)
{
    static const unsigned want_ops[] = {
        INTC_RECORD_OP_LAPIC_MMIO_WRITE, INTC_RECORD_OP_MSI_SEND,
        INTC_RECORD_OP_LAPIC_MSR_READ, INTC_RECORD_OP_IOAPIC_SET_IRQ};
    kit_sink s = {0};
    intc_record_item it;
    uint32_t ids[2];
    intc_ioapic_config io;
    size_t pos = 0, calls = 0;

    record_small(*state, &s);
    assert_int_equal(intc_record_next(s.p, s.n, &pos, &it), INTC_OK);
    assert_int_equal(it.type, INTC_RECORD_CONFIG);
    assert_int_equal(it.offset, 16); /* after the preamble */
    assert_int_equal(it.config.n_cpus, 2);
    assert_int_equal(it.config.n_ioapics, 1);
    assert_int_equal(intc_record_config_arrays(&it, ids, &io), INTC_OK);
    assert_int_equal(ids[0], 4);
    assert_int_equal(ids[1], 9);
    assert_int_equal(io.id, 3);
    assert_int_equal(io.source_id, 0xf0f8);
    assert_int_equal(io.pin_wiring[21], INTC_PIN_LEVEL | INTC_PIN_ACTIVE_LOW);
    assert_int_equal(intc_record_next(s.p, s.n, &pos, &it), INTC_OK);
    assert_int_equal(it.type, INTC_RECORD_DEVICE);
    assert_true(it.msix);
    assert_int_equal(it.vectors, 4);
    assert_int_equal(it.source_id, 0x0300);
    assert_int_equal(intc_record_next(s.p, s.n, &pos, &it), INTC_OK);
    assert_int_equal(it.type, INTC_RECORD_IMAGE);
    assert_true(it.data_len > 0);
    while (intc_record_next(s.p, s.n, &pos, &it) == INTC_OK &&
           it.type != INTC_RECORD_END) {
        if (it.type != INTC_RECORD_CALL)
            continue;
        assert_true(calls < 4);
        assert_int_equal(it.op, want_ops[calls]);
        calls++;
    }
    assert_int_equal(it.type, INTC_RECORD_END);
    assert_int_equal(calls, 4);
    assert_int_equal(pos, s.n);
    /* Nothing after the end record. */
    assert_int_equal(intc_record_next(s.p, s.n, &pos, &it), INTC_ERR_CORRUPT);
    free(s.p);
}

static void test_call_fields(void **state)
{
    kit_sink s = {0};
    intc_record_item it;
    size_t pos = 0;

    record_small(*state, &s);
    while (intc_record_next(s.p, s.n, &pos, &it) == INTC_OK &&
           it.type != INTC_RECORD_END) {
        if (it.type != INTC_RECORD_CALL)
            continue;
        assert_false(it.nested);
        if (it.op == INTC_RECORD_OP_LAPIC_MMIO_WRITE) {
            assert_int_equal(it.obj, 0);
            assert_int_equal(it.a0, INTC_LAPIC_TPR);
            assert_int_equal(it.a1, 4);
            assert_int_equal(it.a2, 0x20);
        } else if (it.op == INTC_RECORD_OP_MSI_SEND) {
            assert_int_equal(it.a0, 0xfee09000u);
            assert_int_equal(it.a1, 0x41);
            assert_int_equal(it.a2, 0x0300);
        } else if (it.op == INTC_RECORD_OP_LAPIC_MSR_READ) {
            assert_int_equal(it.obj, 1);
            /* xAPIC enabled, not the BSP */
            assert_int_equal(it.out, 0xfee00000u | INTC_APIC_BASE_EN);
        } else {
            assert_int_equal(it.op, INTC_RECORD_OP_IOAPIC_SET_IRQ);
            assert_int_equal(it.a0, 21);
            assert_int_equal(it.a2, 1);
        }
    }
    assert_string_equal(intc_record_op_name(INTC_RECORD_OP_MSI_SEND),
                        "msi_send");
    assert_string_equal(intc_record_op_name(INTC_RECORD_OP_LAPIC_ACK),
                        "lapic_ack");
    assert_string_equal(intc_record_op_name(0), "?");
    assert_string_equal(intc_record_op_name(200), "?");
    free(s.p);
}

/* Read to the end; the first error, or INTC_OK at END. */
static intc_err read_all(const uint8_t *p, size_t n)
{
    intc_record_item it;
    size_t pos = 0;
    intc_err e;

    do
        e = intc_record_next(p, n, &pos, &it);
    while (e == INTC_OK && it.type != INTC_RECORD_END);
    return e;
}

static void test_damage_refused(void **state)
{
    kit_sink s = {0};
    intc_record_item it;
    size_t pos = 0;

    record_small(*state, &s);
    assert_int_equal(read_all(s.p, s.n), INTC_OK);
    /* Every truncation, every single-byte change past the preamble's
       informative library version (bytes 12..15). */
    for (size_t cut = 0; cut < s.n; cut++)
        assert_int_not_equal(read_all(s.p, cut), INTC_OK);
    for (size_t i = 0; i < s.n; i++) {
        if (i >= 12 && i < 16)
            continue;
        s.p[i] ^= 0x10;
        assert_int_not_equal(read_all(s.p, s.n), INTC_OK);
        s.p[i] ^= 0x10;
    }
    s.p[8]++; /* format version */
    assert_int_equal(intc_record_next(s.p, s.n, &pos, &it), INTC_ERR_VERSION);
    assert_int_equal(pos, 0);
    s.p[8]--;
    assert_int_equal(intc_record_next(NULL, s.n, &pos, &it), INTC_ERR_INVAL);
    assert_int_equal(intc_record_next(s.p, s.n, NULL, &it), INTC_ERR_INVAL);
    assert_int_equal(intc_record_next(s.p, s.n, &pos, NULL), INTC_ERR_INVAL);
    assert_int_equal(intc_record_next(s.p, s.n, &pos, &it), INTC_OK);
    assert_int_equal(intc_record_next(s.p, s.n, &pos, &it), INTC_OK);
    assert_int_equal(intc_record_config_arrays(&it, NULL, NULL),
                     INTC_ERR_INVAL); /* a DEVICE record */
    free(s.p);
}

/* Host inputs: a clock read, a guest-memory read, a fold. */
static void test_inputs(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    intc_machine *m;
    intc_lapic *l;
    intc_irq irq;
    kit_sink s = {0};
    intc_record_item it;
    size_t pos = 0;
    bool clock = false, dma = false, fold = false;
    uint64_t v;
    uint8_t *mem;

    intc_machine_config_init(&cfg);
    cfg.iommu.kind = INTC_IOMMU_VTD;
    th_full_ops(h);
    mem = kit_region_add(h, 0x200000, 0x1000);
    assert_non_null(mem);
    mem[0] = 1; /* IRTE 0 present (VT-d 9.10) */
    m = th_machine(h, &cfg);
    l = intc_machine_lapic(m, 0);
    h->now = 5000;
    assert_int_equal(intc_machine_record(m, kit_sink_write, &s), INTC_OK);
    assert_int_equal(intc_lapic_mmio_write(l, INTC_LAPIC_TIMER_ICR, 4, 100),
                     INTC_OK);
    assert_int_equal(intc_iommu_set_table(intc_machine_iommu(m), 0x200000,
                                          true, false), INTC_OK);
    intc_iommu_remap(intc_machine_iommu(m), 0x10, 0xfee00010u, 0, &irq);
    assert_true(intc_lapic_post(l, 0x70, true) >= 0);
    assert_int_equal(intc_lapic_sync_pir(l, NULL), INTC_OK);
    assert_int_equal(intc_lapic_mmio_read(l, INTC_LAPIC_PPR, 4, &v), INTC_OK);
    assert_int_equal(intc_machine_record(m, NULL, NULL), INTC_OK);
    intc_machine_free(m);
    while (intc_record_next(s.p, s.n, &pos, &it) == INTC_OK &&
           it.type != INTC_RECORD_END) {
        if (it.type == INTC_RECORD_CLOCK) {
            clock = true;
            assert_int_equal(it.cpu, 0);
            assert_int_equal(it.value, 5000);
        } else if (it.type == INTC_RECORD_DMA_READ) {
            dma = true;
            assert_int_equal(it.addr, 0x200000);
            assert_int_equal(it.len, 16);
            assert_true(it.ok);
            assert_int_equal(it.data_len, 16);
            assert_int_equal(it.data[0], 1);
        } else if (it.type == INTC_RECORD_FOLD) {
            fold = true;
            assert_int_equal(it.cpu, 0);
            assert_int_equal(it.pir[1], 1ull << (0x70 - 64));
            assert_int_equal(it.level[1], 1ull << (0x70 - 64));
        }
    }
    assert_int_equal(it.type, INTC_RECORD_END);
    assert_true(clock && dma && fold);
    free(s.p);
}

/* intc_record_config_arrays checks the item it is given again. */
static void test_config_item_checked(void **state)
{
    kit_sink s = {0};
    intc_record_item it;
    uint32_t ids[2];
    size_t pos = 0;

    record_small(*state, &s);
    assert_int_equal(intc_record_next(s.p, s.n, &pos, &it), INTC_OK);
    it.config.n_cpus = 100000; /* more than the record holds */
    assert_int_equal(intc_record_config_arrays(&it, NULL, NULL),
                     INTC_ERR_CORRUPT);
    it.config.n_cpus = 2;
    it.config.n_ioapics = 2;
    assert_int_equal(intc_record_config_arrays(&it, ids, NULL),
                     INTC_ERR_CORRUPT);
    it.config.n_ioapics = 1;
    assert_int_equal(intc_record_config_arrays(&it, ids, NULL), INTC_OK);
    free(s.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_records_in_order, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_call_fields, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_damage_refused, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_inputs, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_config_item_checked, th_setup,
                                        th_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
