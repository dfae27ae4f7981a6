/*
 * The operation set (testkit/op.h): the table is well formed, and the
 * fuzz_machine encoder and decoder of kit_ops (fuzz/machine_ops.c, its raw
 * escape) round-trip: decode(encode(op)) == op for every kind, with
 * operands fitted to the machine (mo_fit).
 */
#define _POSIX_C_SOURCE 200809L /* fmemopen */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The decoder, encoder and host of fuzz_machine (and its oracles);
   before cmocka.h, whose fail() macro the oracles' fail() would meet. */
#include "../fuzz/machine_ops.c"

#include <cmocka.h>

static void test_table(void **state)
{
    (void)state;
    for (unsigned k = 0; k < KIT_OP_COUNT_; k++) {
        const kit_op_info *in = &kit_op_table[k];
        assert_non_null(in->name);
        if (in->form == KIT_FORM_SCALAR)
            assert_int_equal(in->n_fields, 1);
        for (unsigned i = 0; i < in->n_fields; i++) {
            const kit_field *f = &in->fields[i];
            assert_non_null(f->key);
            assert_true(f->slot <= KIT_S_BYTES);
            if (f->type == KIT_F_WORD)
                assert_non_null(f->words);
        }
        /* rows of one name are adjacent (the parser relies on it) */
        for (unsigned j = k + 2; j < KIT_OP_COUNT_; j++)
            assert_true(strcmp(kit_op_table[j].name, in->name) != 0);
    }
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static bool same_op(const kit_op *a, const kit_op *b)
{
    return a->kind == b->kind && a->flags == b->flags && a->cpu == b->cpu &&
           a->unit == b->unit && a->index == b->index &&
           a->size == b->size && a->source == b->source &&
           a->addr == b->addr && a->value == b->value &&
           a->value2 == b->value2 && a->n_bytes == b->n_bytes &&
           (!a->n_bytes || memcmp(a->bytes, b->bytes, a->n_bytes) == 0);
}

/* One op of kind k with random operands, fitted to c; false if c cannot
   run it. */
static bool random_op(const mo_config *c, unsigned k, uint64_t *s,
                      uint8_t *bytes, kit_op *op)
{
    memset(op, 0, sizeof *op);
    op->kind = (uint16_t)k;
    op->flags = (uint16_t)rnd(s);
    op->cpu = (uint32_t)rnd(s);
    op->unit = (uint32_t)rnd(s);
    op->index = (uint32_t)rnd(s);
    op->size = (uint32_t)rnd(s) % 17;
    op->source = (uint32_t)rnd(s);
    op->addr = rnd(s);
    op->value = rnd(s);
    op->value2 = rnd(s);
    op->n_bytes = (size_t)(rnd(s) % 48);
    for (size_t i = 0; i < op->n_bytes; i++)
        bytes[i] = (uint8_t)rnd(s);
    op->bytes = bytes;
    if (k == KIT_OP_MEMORY_WRITE || k == KIT_OP_MEMORY_READ) {
        op->addr = MO_MEM_BASE + rnd(s) % 0x100;
        op->n_bytes = 16;
        op->size = 8;
    }
    if (k == KIT_OP_SYNC_PIR)
        op->n_bytes = 32;
    return mo_fit(c, op);
}

static void test_round_trip(void **state)
{
    mo_config c = {.n_cpus = 4, .n_ioapics = 2, .n_msix = 2,
                   .iommu = INTC_IOMMU_VTD, .snap_at = UINT32_MAX};
    mo_program *p = malloc(sizeof *p);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    unsigned tried = 0;

    (void)state;
    assert_non_null(p);
    for (unsigned k = 0; k < KIT_OP_COUNT_; k++)
        for (unsigned n = 0; n < 64; n++) {
            uint8_t in[1024], bytes[64];
            kit_op op;
            size_t len;
            if (!random_op(&c, k, &seed, bytes, &op))
                continue;
            len = mo_encode_header(&c, in, sizeof in);
            assert_int_equal(len, 3);
            len += mo_encode_op(&op, in + len, sizeof in - len);
            mo_decode(in, len, p);
            assert_int_equal(p->n, 1);
            if (!same_op(&op, &p->steps[0]))
                fail_msg("kind %s (%u) does not round-trip", kit_op_name(k),
                         k);
            mo_program_free(p);
            tried++;
        }
    assert_true(tried > KIT_OP_COUNT_ * 16);
    free(p);
}

/* Every kind fits a machine with IOMMU and MSI-X, except the MSI ones
   (fuzz_machine has no MSI capability). */
static void test_every_kind_encodes(void **state)
{
    mo_config c = {.n_cpus = 2, .n_ioapics = 1, .n_msix = 1,
                   .iommu = INTC_IOMMU_VTD};
    uint64_t seed = 1;

    (void)state;
    for (unsigned k = 0; k < KIT_OP_COUNT_; k++) {
        uint8_t bytes[64];
        kit_op op;
        bool msi = k == KIT_OP_MSI_CONFIG || k == KIT_OP_MSI_NOTIFY ||
                   k == KIT_OP_MSI_CONFIG_READ;
        bool ok = false;
        for (unsigned n = 0; n < 64 && !ok; n++)
            ok = random_op(&c, k, &seed, bytes, &op);
        if (ok == msi)
            fail_msg("kind %s: fits %d", kit_op_name(k), ok);
    }
}

/* The printer names the op and its operands' keys. */
static void test_print(void **state)
{
    kit_op op = {.kind = KIT_OP_MSIX_TABLE, .unit = 1, .index = 3,
                 .flags = KIT_TF_DATA, .value = 0x41};
    char buf[256];
    FILE *f = fmemopen(buf, sizeof buf, "w");

    (void)state;
    assert_non_null(f);
    kit_op_yaml(f, &op, NULL, NULL);
    fclose(f);
    assert_string_equal(buf, "{msix_table: {device: dev1, entry: 3, "
                             "data: 0x41}}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_every_kind_encodes),
        cmocka_unit_test(test_print),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
