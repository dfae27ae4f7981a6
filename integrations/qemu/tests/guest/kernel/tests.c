/* The order of the tests in `test=list` (the runner's table order). */
#include "tests.h"

const struct test *const test_groups[] = {
    ipi_tests, apic_tests, timer_tests, x2apic_tests, ioapic_tests, msi_tests,
    ir_tests, amdvi_tests, 0,
};
