/*
 * testkit — the operation table (op.h).  One row per kind: the scenario
 * name, the form of its value, whether it acts on a CPU, what it reports
 * and its operands.  intc-sim's parser and the YAML printer walk it.
 */
#include "op.h"

#include <string.h>

#define U32 UINT32_MAX
#define U64 UINT64_MAX
#define N(a) (unsigned)(sizeof(a) / sizeof((a)[0]))

const char *const kit_ipi_mode_words[] = {"fixed", "lowest", "smi", "nmi",
                                          "init", "sipi", "extint", NULL};
const uint32_t kit_ipi_mode_codes[] = {0, 1, 2, 4, 5, 6, 7};
static const char *const shorthand_words[] = {"none", "self", "all",
                                              "others", NULL};
static const uint32_t shorthand_codes[] = {0, 1, 2, 3};
const char *const kit_take_words[] = {"nmi", "smi", "init", "sipi",
                                      "extint", NULL};
const uint32_t kit_take_codes[] = {INTC_PEND_NMI, INTC_PEND_SMI,
                                   INTC_PEND_INIT, INTC_PEND_SIPI,
                                   INTC_PEND_EXTINT};
const char *const kit_lvt_words[] = {"cmci", "thermal", "perf", NULL};
const uint32_t kit_lvt_codes[] = {INTC_LVT_CMCI, INTC_LVT_THERMAL,
                                  INTC_LVT_PERF};
static const char *const reset_words[] = {"reset", "init", NULL};
static const uint32_t reset_codes[] = {0, 1};

/* Field constructors: required, optional (flag), optional (no flag). */
#define F(k, t, s, m) {k, t, s, 0, m, NULL, NULL}
#define FO(k, t, s, m) {k, t, s, KIT_OPT, m, NULL, NULL}
#define FF(k, t, s, fl, m) {k, t, s, fl, m, NULL, NULL}
#define FW(k, s, fl, w, c) {k, KIT_F_WORD, s, fl, 0, w, c}

static const kit_field f_duration[] = {
    F("advance", KIT_F_DURATION, KIT_S_VALUE, U64)};
static const kit_field f_block[] = {
    F("block", KIT_F_DURATION, KIT_S_VALUE, U64)};
static const kit_field f_write[] = {
    F("reg", KIT_F_REG, KIT_S_INDEX, 0),
    F("value", KIT_F_UINT, KIT_S_VALUE, U64)};
static const kit_field f_read[] = {F("reg", KIT_F_REG, KIT_S_INDEX, 0)};
static const kit_field f_access_w[] = {
    F("offset", KIT_F_UINT, KIT_S_ADDR, U32),
    F("size", KIT_F_UINT, KIT_S_SIZE, 16),
    F("value", KIT_F_UINT, KIT_S_VALUE, U64)};
static const kit_field f_access_r[] = {
    F("offset", KIT_F_UINT, KIT_S_ADDR, U32),
    F("size", KIT_F_UINT, KIT_S_SIZE, 16)};
static const kit_field f_wrmsr[] = {
    F("msr", KIT_F_UINT, KIT_S_INDEX, U32),
    F("value", KIT_F_UINT, KIT_S_VALUE, U64)};
static const kit_field f_rdmsr[] = {F("msr", KIT_F_UINT, KIT_S_INDEX, U32)};
static const kit_field f_ipi[] = {
    FO("dest", KIT_F_UINT, KIT_S_VALUE, U32),
    FO("vector", KIT_F_UINT, KIT_S_VALUE2, 255),
    FW("mode", KIT_S_INDEX, KIT_OPT, kit_ipi_mode_words, kit_ipi_mode_codes),
    FF("logical", KIT_F_FLAG, KIT_S_VALUE, KIT_IPI_LOGICAL, 0),
    FW("shorthand", KIT_S_SIZE, KIT_OPT, shorthand_words, shorthand_codes),
    FF("level", KIT_F_FLAG, KIT_S_VALUE, KIT_IPI_LEVEL, 0),
    FF("assert", KIT_F_NFLAG, KIT_S_VALUE, KIT_IPI_DEASSERT, 0)};
static const kit_field f_tpr[] = {F("tpr", KIT_F_UINT, KIT_S_VALUE, 255)};
static const kit_field f_lint[] = {F("pin", KIT_F_UINT, KIT_S_INDEX, 1),
                                   F("level", KIT_F_BOOL, KIT_S_VALUE, 1)};
static const kit_field f_take[] = {
    FW("take", KIT_S_INDEX, 0, kit_take_words, kit_take_codes)};
static const kit_field f_raise[] = {
    FW("raise_lvt", KIT_S_INDEX, 0, kit_lvt_words, kit_lvt_codes)};
static const kit_field f_rte[] = {
    FO("ioapic", KIT_F_IOAPIC, KIT_S_UNIT, 0),
    F("pin", KIT_F_PIN, KIT_S_INDEX, 0),
    F("rte", KIT_F_UINT, KIT_S_VALUE, U64)};
static const kit_field f_ioreg[] = {
    FO("ioapic", KIT_F_IOAPIC, KIT_S_UNIT, 0),
    F("reg", KIT_F_UINT, KIT_S_INDEX, 255),
    F("value", KIT_F_UINT, KIT_S_VALUE, U32)};
static const kit_field f_ioeoi[] = {
    FO("ioapic", KIT_F_IOAPIC, KIT_S_UNIT, 0),
    F("vector", KIT_F_UINT, KIT_S_VALUE, 255)};
static const kit_field f_irq[] = {
    FO("ioapic", KIT_F_IOAPIC, KIT_S_UNIT, 0),
    F("pin", KIT_F_PIN, KIT_S_INDEX, 0),
    F("level", KIT_F_BOOL, KIT_S_VALUE, 1),
    FO("source", KIT_F_UINT, KIT_S_SOURCE, INTC_IOAPIC_MAX_SOURCES - 1)};
static const kit_field f_gsi[] = {F("gsi", KIT_F_UINT, KIT_S_INDEX, U32),
                                  F("level", KIT_F_BOOL, KIT_S_VALUE, 1)};
static const kit_field f_msi[] = {
    F("addr", KIT_F_UINT, KIT_S_ADDR, U64),
    F("data", KIT_F_UINT, KIT_S_VALUE, U32),
    FO("source_id", KIT_F_UINT, KIT_S_SOURCE, 0xffff)};
static const kit_field f_msix_table[] = {
    F("device", KIT_F_MSIX, KIT_S_UNIT, 0),
    F("entry", KIT_F_ENTRY, KIT_S_INDEX, 0),
    FF("addr", KIT_F_UINT, KIT_S_ADDR, KIT_TF_ADDR, U64),
    FF("data", KIT_F_UINT, KIT_S_VALUE, KIT_TF_DATA, U32),
    FF("masked", KIT_F_BOOL, KIT_S_VALUE2, KIT_TF_MASKED, 1)};
static const kit_field f_msix_control[] = {
    F("device", KIT_F_MSIX, KIT_S_UNIT, 0),
    FO("enable", KIT_F_BOOL, KIT_S_VALUE, 1),
    FO("mask", KIT_F_BOOL, KIT_S_VALUE2, 1)};
static const kit_field f_msix_notify[] = {
    F("device", KIT_F_MSIX, KIT_S_UNIT, 0),
    F("vector", KIT_F_DEVVEC, KIT_S_INDEX, 0)};
static const kit_field f_msi_config[] = {
    F("device", KIT_F_MSI, KIT_S_UNIT, 0),
    F("offset", KIT_F_UINT, KIT_S_ADDR, 255),
    F("size", KIT_F_UINT, KIT_S_SIZE, 8),
    F("value", KIT_F_UINT, KIT_S_VALUE, U32)};
static const kit_field f_msi_notify[] = {
    F("device", KIT_F_MSI, KIT_S_UNIT, 0),
    F("vector", KIT_F_DEVVEC, KIT_S_INDEX, 0)};
static const kit_field f_snapshot[] = {
    F("snapshot", KIT_F_SNAP, KIT_S_UNIT, 0)};
static const kit_field f_restore[] = {
    F("restore", KIT_F_SNAP_USE, KIT_S_UNIT, 0)};
static const kit_field f_ioapic_mmio_w[] = {
    FO("ioapic", KIT_F_IOAPIC, KIT_S_UNIT, 0),
    F("offset", KIT_F_UINT, KIT_S_ADDR, U32),
    F("size", KIT_F_UINT, KIT_S_SIZE, 16),
    F("value", KIT_F_UINT, KIT_S_VALUE, U64)};
static const kit_field f_ioapic_mmio_r[] = {
    FO("ioapic", KIT_F_IOAPIC, KIT_S_UNIT, 0),
    F("offset", KIT_F_UINT, KIT_S_ADDR, U32),
    F("size", KIT_F_UINT, KIT_S_SIZE, 16)};
static const kit_field f_msix_raw_w[] = {
    F("device", KIT_F_MSIX, KIT_S_UNIT, 0),
    F("offset", KIT_F_UINT, KIT_S_ADDR, U32),
    F("size", KIT_F_UINT, KIT_S_SIZE, 16),
    F("value", KIT_F_UINT, KIT_S_VALUE, U64)};
static const kit_field f_msix_raw_r[] = {
    F("device", KIT_F_MSIX, KIT_S_UNIT, 0),
    F("offset", KIT_F_UINT, KIT_S_ADDR, U32),
    F("size", KIT_F_UINT, KIT_S_SIZE, 16)};
static const kit_field f_msi_config_r[] = {
    F("device", KIT_F_MSI, KIT_S_UNIT, 0),
    F("offset", KIT_F_UINT, KIT_S_ADDR, 255),
    F("size", KIT_F_UINT, KIT_S_SIZE, 8)};
static const kit_field f_device_reset[] = {
    F("device_reset", KIT_F_DEVICE, KIT_S_UNIT, 0)};
static const kit_field f_timer_expired[] = {
    FO("cpu", KIT_F_CPU_IDX, KIT_S_UNIT, 0),
    FF("ioapic", KIT_F_IOAPIC, KIT_S_UNIT, KIT_TIMER_IOAPIC, 0),
    F("now", KIT_F_UINT, KIT_S_VALUE, U64)};
static const kit_field f_tsc_offset[] = {
    F("tsc_offset", KIT_F_UINT, KIT_S_VALUE, U64)};
static const kit_field f_lapic_reset[] = {
    FW("lapic_reset", KIT_S_INDEX, 0, reset_words, reset_codes)};
static const kit_field f_load[] = {
    F("load", KIT_F_HEX, KIT_S_BYTES, 64u << 20)};
static const kit_field f_post[] = {
    F("vector", KIT_F_UINT, KIT_S_VALUE2, 255),
    FO("level", KIT_F_BOOL, KIT_S_VALUE, 1)};
static const kit_field f_sync_pir[] = {
    FO("pir", KIT_F_HEX, KIT_S_BYTES, 32)};
static const kit_field f_iommu_table[] = {
    F("irta", KIT_F_UINT, KIT_S_ADDR, U64),
    F("enabled", KIT_F_BOOL, KIT_S_VALUE, 1),
    FO("cfi", KIT_F_BOOL, KIT_S_VALUE2, 1)};
static const kit_field f_iommu_inval[] = {
    F("index", KIT_F_UINT, KIT_S_INDEX, U32),
    FO("mask", KIT_F_UINT, KIT_S_SIZE, 63)};
static const kit_field f_irq_deliver[] = {
    F("dest", KIT_F_UINT, KIT_S_VALUE, U32),
    F("vector", KIT_F_UINT, KIT_S_VALUE2, 255),
    FW("mode", KIT_S_INDEX, KIT_OPT, kit_ipi_mode_words, kit_ipi_mode_codes),
    FF("logical", KIT_F_FLAG, KIT_S_VALUE, KIT_IRQ_LOGICAL, 0),
    FF("level", KIT_F_FLAG, KIT_S_VALUE, KIT_IRQ_LEVEL, 0),
    FF("rh", KIT_F_FLAG, KIT_S_VALUE, KIT_IRQ_RH, 0),
    FF("x2apic", KIT_F_FLAG, KIT_S_VALUE, KIT_IRQ_X2APIC, 0)};

#define ROW(name, form, cpu, res, f) {name, form, cpu, res, f, N(f)}
#define ROW0(name, form, cpu, res) {name, form, cpu, res, NULL, 0}
#define E KIT_RES_ERR
#define EV (KIT_RES_ERR | KIT_RES_VALUE)

const kit_op_info kit_op_table[KIT_OP_COUNT_] = {
    [KIT_OP_ADVANCE] = ROW("advance", KIT_FORM_SCALAR, 0, 0, f_duration),
    [KIT_OP_BLOCK] = ROW("block", KIT_FORM_SCALAR, 1, 0, f_block),
    [KIT_OP_WRITE] = ROW("write", KIT_FORM_MAP, 1, E, f_write),
    [KIT_OP_READ] = ROW("read", KIT_FORM_MAP, 1, EV, f_read),
    [KIT_OP_MMIO_WRITE] = ROW("mmio_write", KIT_FORM_MAP, 1, E, f_access_w),
    [KIT_OP_MMIO_READ] = ROW("mmio_read", KIT_FORM_MAP, 1, EV, f_access_r),
    [KIT_OP_WRMSR] = ROW("wrmsr", KIT_FORM_MAP, 1, E, f_wrmsr),
    [KIT_OP_RDMSR] = ROW("rdmsr", KIT_FORM_MAP, 1, EV, f_rdmsr),
    [KIT_OP_IPI] = ROW("ipi", KIT_FORM_MAP, 1, 0, f_ipi),
    [KIT_OP_TPR] = ROW("tpr", KIT_FORM_SCALAR, 1, 0, f_tpr),
    [KIT_OP_LINT] = ROW("lint", KIT_FORM_MAP, 1, 0, f_lint),
    [KIT_OP_ACK] = ROW0("ack", KIT_FORM_CUSTOM, 1, 0),
    [KIT_OP_EOI] = ROW0("eoi", KIT_FORM_TRUE, 1, 0),
    [KIT_OP_TAKE] = ROW("take", KIT_FORM_SCALAR, 1, 0, f_take),
    [KIT_OP_RUN] = ROW0("run", KIT_FORM_TRUE, 1, 0),
    [KIT_OP_RAISE_LVT] = ROW("raise_lvt", KIT_FORM_SCALAR, 1, 0, f_raise),
    [KIT_OP_IOAPIC_RTE] = ROW("ioapic_write", KIT_FORM_MAP, 0, 0, f_rte),
    [KIT_OP_IOAPIC_REG] = ROW("ioapic_write", KIT_FORM_MAP, 0, 0, f_ioreg),
    [KIT_OP_IOAPIC_EOI] = ROW("ioapic_eoi", KIT_FORM_MAP, 0, 0, f_ioeoi),
    [KIT_OP_IRQ] = ROW("irq", KIT_FORM_MAP, 0, 0, f_irq),
    [KIT_OP_GSI] = ROW("irq", KIT_FORM_MAP, 0, 0, f_gsi),
    [KIT_OP_MSI] = ROW("msi", KIT_FORM_MAP, 0, 0, f_msi),
    [KIT_OP_MSIX_TABLE] = ROW("msix_table", KIT_FORM_MAP, 0, 0, f_msix_table),
    [KIT_OP_MSIX_CONTROL] =
        ROW("msix_control", KIT_FORM_MAP, 0, 0, f_msix_control),
    [KIT_OP_MSIX_NOTIFY] =
        ROW("msix_notify", KIT_FORM_MAP, 0, 0, f_msix_notify),
    [KIT_OP_MSI_CONFIG] = ROW("msi_config", KIT_FORM_MAP, 0, 0, f_msi_config),
    [KIT_OP_MSI_NOTIFY] = ROW("msi_notify", KIT_FORM_MAP, 0, 0, f_msi_notify),
    [KIT_OP_IOMMU_WRITE] = ROW("iommu_write", KIT_FORM_MAP, 0, E, f_access_w),
    [KIT_OP_IOMMU_READ] = ROW("iommu_read", KIT_FORM_MAP, 0, EV, f_access_r),
    [KIT_OP_MEMORY_WRITE] = ROW0("memory_write", KIT_FORM_CUSTOM, 0, 0),
    [KIT_OP_MEMORY_READ] = ROW0("memory_read", KIT_FORM_CUSTOM, 0, 0),
    [KIT_OP_SNAPSHOT] = ROW("snapshot", KIT_FORM_SCALAR, 0, 0, f_snapshot),
    [KIT_OP_RESTORE] = ROW("restore", KIT_FORM_SCALAR, 0, 0, f_restore),
    [KIT_OP_IOAPIC_MMIO_WRITE] =
        ROW("ioapic_mmio_write", KIT_FORM_MAP, 0, E, f_ioapic_mmio_w),
    [KIT_OP_IOAPIC_MMIO_READ] =
        ROW("ioapic_mmio_read", KIT_FORM_MAP, 0, EV, f_ioapic_mmio_r),
    [KIT_OP_MSIX_TABLE_WRITE] =
        ROW("msix_table_write", KIT_FORM_MAP, 0, E, f_msix_raw_w),
    [KIT_OP_MSIX_TABLE_READ] =
        ROW("msix_table_read", KIT_FORM_MAP, 0, EV, f_msix_raw_r),
    [KIT_OP_MSIX_PBA_READ] =
        ROW("msix_pba_read", KIT_FORM_MAP, 0, EV, f_msix_raw_r),
    [KIT_OP_MSI_CONFIG_READ] =
        ROW("msi_config_read", KIT_FORM_MAP, 0, EV, f_msi_config_r),
    [KIT_OP_DEVICE_RESET] =
        ROW("device_reset", KIT_FORM_SCALAR, 0, E, f_device_reset),
    [KIT_OP_TIMER_EXPIRED] =
        ROW("timer_expired", KIT_FORM_MAP, 0, 0, f_timer_expired),
    [KIT_OP_TSC_OFFSET] =
        ROW("tsc_offset", KIT_FORM_SCALAR, 1, E, f_tsc_offset),
    [KIT_OP_RESET] = ROW0("reset", KIT_FORM_TRUE, 0, E),
    [KIT_OP_LAPIC_RESET] =
        ROW("lapic_reset", KIT_FORM_SCALAR, 1, E, f_lapic_reset),
    [KIT_OP_LOAD] = ROW("load", KIT_FORM_SCALAR, 0, E, f_load),
    [KIT_OP_POST] = ROW("post", KIT_FORM_MAP, 1, KIT_RES_VALUE, f_post),
    [KIT_OP_SYNC_PIR] = ROW("sync_pir", KIT_FORM_MAP, 1, E, f_sync_pir),
    [KIT_OP_IOMMU_TABLE] =
        ROW("iommu_table", KIT_FORM_MAP, 0, E, f_iommu_table),
    [KIT_OP_IOMMU_INVALIDATE] =
        ROW("iommu_invalidate", KIT_FORM_MAP, 0, E, f_iommu_inval),
    [KIT_OP_REMAP] = ROW("remap", KIT_FORM_MAP, 0, E, f_msi),
    [KIT_OP_IRQ_DELIVER] =
        ROW("irq_deliver", KIT_FORM_MAP, 0, E, f_irq_deliver),
};

const char *kit_op_name(unsigned kind)
{
    return kind < KIT_OP_COUNT_ ? kit_op_table[kind].name : "?";
}

static const struct {
    const char *name;
    uint32_t off;
} reg_names[] = {
    {"id", 0x020},          {"version", 0x030},     {"tpr", 0x080},
    {"apr", 0x090},         {"ppr", 0x0a0},         {"eoi", 0x0b0},
    {"rrd", 0x0c0},         {"ldr", 0x0d0},         {"dfr", 0x0e0},
    {"svr", 0x0f0},         {"isr0", 0x100},        {"isr1", 0x110},
    {"isr2", 0x120},        {"isr3", 0x130},        {"isr4", 0x140},
    {"isr5", 0x150},        {"isr6", 0x160},        {"isr7", 0x170},
    {"tmr0", 0x180},        {"tmr1", 0x190},        {"tmr2", 0x1a0},
    {"tmr3", 0x1b0},        {"tmr4", 0x1c0},        {"tmr5", 0x1d0},
    {"tmr6", 0x1e0},        {"tmr7", 0x1f0},        {"irr0", 0x200},
    {"irr1", 0x210},        {"irr2", 0x220},        {"irr3", 0x230},
    {"irr4", 0x240},        {"irr5", 0x250},        {"irr6", 0x260},
    {"irr7", 0x270},        {"esr", 0x280},         {"lvt_cmci", 0x2f0},
    {"icr_lo", 0x300},      {"icr_hi", 0x310},      {"lvt_timer", 0x320},
    {"lvt_thermal", 0x330}, {"lvt_perf", 0x340},    {"lvt_lint0", 0x350},
    {"lvt_lint1", 0x360},   {"lvt_error", 0x370},   {"timer_icr", 0x380},
    {"timer_ccr", 0x390},   {"timer_dcr", 0x3e0},   {"self_ipi", 0x3f0},
    {"icr", KIT_REG_ICR64},
};

const char *kit_reg_name(uint32_t reg)
{
    for (unsigned i = 0; i < N(reg_names); i++)
        if (reg_names[i].off == reg)
            return reg_names[i].name;
    return NULL;
}

bool kit_reg_lookup(const char *name, uint32_t *reg)
{
    for (unsigned i = 0; i < N(reg_names); i++)
        if (strcmp(reg_names[i].name, name) == 0)
            return *reg = reg_names[i].off, true;
    return false;
}

const char *kit_word(const kit_field *f, uint32_t code)
{
    for (unsigned i = 0; f->words && f->words[i]; i++)
        if (f->codes[i] == code)
            return f->words[i];
    return NULL;
}

uint64_t kit_op_get(const kit_op *op, unsigned slot)
{
    switch (slot) {
    case KIT_S_CPU: return op->cpu;
    case KIT_S_UNIT: return op->unit;
    case KIT_S_INDEX: return op->index;
    case KIT_S_SIZE: return op->size;
    case KIT_S_SOURCE: return op->source;
    case KIT_S_ADDR: return op->addr;
    case KIT_S_VALUE: return op->value;
    case KIT_S_VALUE2: return op->value2;
    default: return op->n_bytes;
    }
}

void kit_op_set(kit_op *op, unsigned slot, uint64_t v)
{
    switch (slot) {
    case KIT_S_CPU: op->cpu = (uint32_t)v; break;
    case KIT_S_UNIT: op->unit = (uint32_t)v; break;
    case KIT_S_INDEX: op->index = (uint32_t)v; break;
    case KIT_S_SIZE: op->size = (uint32_t)v; break;
    case KIT_S_SOURCE: op->source = (uint32_t)v; break;
    case KIT_S_ADDR: op->addr = v; break;
    case KIT_S_VALUE: op->value = v; break;
    case KIT_S_VALUE2: op->value2 = v; break;
    default: break;
    }
}

/* expect_error words (docs/scenario.md): the errors a step may expect. */
const char *const kit_err_words[] = {"gp", "not_decoded", "inval",
                                     "corrupt", "version", NULL};
const int kit_err_codes[] = {INTC_ERR_GP, INTC_ERR_NOT_DECODED,
                             INTC_ERR_INVAL, INTC_ERR_CORRUPT,
                             INTC_ERR_VERSION};

const char *kit_err_word(int err)
{
    for (unsigned i = 0; kit_err_words[i]; i++)
        if (kit_err_codes[i] == err)
            return kit_err_words[i];
    return NULL;
}
