/*
 * machine2yaml: print the intc-sim scenario (docs/scenario.md) equivalent
 * to a fuzz_machine input, so a finding becomes a readable, runnable
 * scenario:
 *
 *   machine2yaml [--x2apic] [--no-expect] [--trace] INPUT > scenario.yaml
 *   machine2yaml --check INPUT...
 *
 * The input is decoded exactly as fuzz_machine decodes it (machine_ops.c)
 * and run once on a machine, so every step can carry what it returned
 * (expect_error, the INTA vector, take results, register reads) and the
 * actual length of each time advance; the per-step oracles run alongside
 * and the step that breaks one is marked with a "# ORACLE:" comment.  The
 * scenario ends with expectations of the final state (IRR/ISR/TMR and
 * pending signals of every CPU, Remote IRR pins, event totals) unless
 * --no-expect.  For differential inputs --x2apic prints the x2APIC
 * variant (every CPU switched to x2APIC mode first).
 *
 * --trace adds each step's events as comments.
 *
 * --check runs every oracle of the fuzz target (including the double runs)
 * on each INPUT, without libFuzzer: exit 1 if any fails.
 *
 * Exit: 0 fine, 1 an oracle failed (--check), 2 usage or I/O error.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kit_file.h"
#include "oracles.h"

static void vec_list(FILE *f, const char *key, intc_lapic *l, uint32_t base)
{
    bool x2 = mo_lapic_x2(l), first = true;
    fprintf(f, "%s: [", key);
    for (unsigned i = 0; i < 8; i++) {
        uint64_t v = 0;
        intc_err e = x2 ? intc_lapic_msr_read(l, 0x800 + ((base >> 4) + i), &v)
                        : intc_lapic_mmio_read(l, base + 0x10 * i, 4, &v);
        if (e != INTC_OK)
            v = 0;
        for (unsigned b = 0; b < 32; b++)
            if (v >> b & 1) {
                fprintf(f, "%s0x%02x", first ? "" : ", ", 32 * i + b);
                first = false;
            }
    }
    fprintf(f, "]");
}

static void final_expect(FILE *f, mo_host *h)
{
    static const char *const sig[6] = {"intr", "nmi", "smi", "init", "sipi",
                                       "extint"};
    static const intc_event_type tot[] = {
        INTC_EV_IRR_SET, INTC_EV_ACK, INTC_EV_EOI_BROADCAST,
        INTC_EV_IOAPIC_SEND, INTC_EV_MSI, INTC_EV_MSI_DROPPED,
        INTC_EV_IR_FAULT, INTC_EV_REJECTED, INTC_EV_TIMER};

    fprintf(f, "  # final state\n");
    for (unsigned c = 0; c < h->cfg->n_cpus; c++) {
        intc_lapic *l = intc_machine_lapic(h->m, c);
        unsigned p = intc_lapic_pending(l);
        bool first = true;
        fprintf(f, "  - expect: {cpu: %u, ", c);
        vec_list(f, "irr", l, 0x200);
        fprintf(f, ", ");
        vec_list(f, "isr", l, 0x100);
        fprintf(f, ", ");
        vec_list(f, "tmr", l, 0x180);
        fprintf(f, ", pending: [");
        for (unsigned b = 0; b < 6; b++)
            if (p & (1u << b)) {
                fprintf(f, "%s%s", first ? "" : ", ", sig[b]);
                first = false;
            }
        fprintf(f, "]}\n");
    }
    for (unsigned i = 0; i < h->cfg->n_ioapics; i++) {
        intc_ioapic *io = intc_machine_ioapic(h->m, i);
        for (unsigned pin = 0; pin < intc_ioapic_pin_count(io); pin++) {
            uint64_t rte = 0;
            intc_ioapic_rte(io, pin, &rte);
            if (rte & INTC_RTE_REMOTE_IRR)
                fprintf(f, "  - expect: {ioapic: %u, pin: %u, remote_irr: "
                           "true}\n", i, pin);
        }
    }
    fprintf(f, "  - expect:\n      total: {");
    for (size_t i = 0; i < sizeof tot / sizeof tot[0]; i++)
        fprintf(f, "%s%s: %" PRIu64, i ? ", " : "", intc_event_name(tot[i]),
                h->k->totals[tot[i]]);
    fprintf(f, "}\n");
}

/* --trace: the step's events as comments (recorded by the oracle). */
static void print_events(const mo_oracle *o)
{
    for (unsigned k = 0; k < o->n_ev; k++) {
        const intc_event *ev = &o->ev[k];
        printf("  #   %s cpu=%d vector=%d unit=%u pin=%u data=0x%" PRIx64
               " data2=0x%" PRIx64 "\n", intc_event_name(ev->type),
               ev->cpu == INTC_NO_CPU ? -1 : (int)ev->cpu, ev->vector,
               ev->unit, ev->pin, ev->data, ev->data2);
    }
}

static int convert(const char *path, const uint8_t *data, size_t size,
                   bool x2, bool expect, bool trace)
{
    mo_program *p = malloc(sizeof *p);
    mo_host *h = calloc(1, sizeof *h);
    mo_oracle *o = calloc(1, sizeof *o);
    mo_observer obs;
    mo_result r = {0};
    const char *base = strrchr(path, '/');

    if (!p || !h || !o) {
        free(p);
        free(h);
        free(o);
        fprintf(stderr, "machine2yaml: out of memory\n");
        return 2;
    }
    mo_decode(data, size, p);
    if (x2 && !p->cfg.diff) {
        fprintf(stderr, "machine2yaml: --x2apic needs a differential input "
                        "(byte 0 bit 6)\n");
        free(p);
        free(h);
        free(o);
        return 2;
    }
    mo_oracle_init(o, true);
    obs = mo_oracle_observer(o);
    if (!mo_host_init(h, &p->cfg, &obs)) {
        fprintf(stderr, "machine2yaml: cannot build the machine\n");
        free(p);
        free(h);
        free(o);
        return 2;
    }
    mo_oracle_attach(o, h);
    if (x2)
        mo_host_enter_x2apic(h);

    printf("# Converted by machine2yaml from the fuzz_machine input %s\n"
           "# (%zu bytes, %u steps%s%s).\n",
           base ? base + 1 : path, size, p->n,
           p->cfg.diff ? ", differential input, " : "",
           p->cfg.diff ? (x2 ? "x2APIC variant" : "xAPIC variant") : "");
    printf("name: fuzz_machine %s\n", base ? base + 1 : path);
    mo_yaml_machine(stdout, &p->cfg, x2);
    for (unsigned i = 0; i < p->n; i++) {
        mo_step st = p->steps[i];
        uint64_t t0 = h->k->now;

        mo_oracle_pre(o, i, &p->steps[i]);
        mo_exec(h, &p->steps[i], &r);
        /* The time the host really advanced: its clock stops short of
           the end of time (testkit/exec.c later()), where intc-sim
           refuses to go. */
        if (st.kind == KIT_OP_ADVANCE || st.kind == KIT_OP_BLOCK)
            st.value = h->k->now - t0;
        mo_yaml_step(stdout, &p->cfg, &st, &r, x2);
        if (trace)
            print_events(o);
        if (!mo_oracle_post(o, &p->steps[i], &r)) {
            printf("  # ORACLE: %s\n", o->msg);
            o->checks = false; /* report the first only */
        }
    }
    if (expect)
        final_expect(stdout, h);
    kit_result_free(&r);
    mo_host_fini(h);
    mo_program_free(p);
    free(p);
    free(h);
    free(o);
    return 0;
}

int main(int argc, char **argv)
{
    bool check = false, x2 = false, expect = true, trace = false;
    int i = 1, rc = 0;

    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--check") == 0)
            check = true;
        else if (strcmp(argv[i], "--x2apic") == 0)
            x2 = true;
        else if (strcmp(argv[i], "--no-expect") == 0)
            expect = false;
        else if (strcmp(argv[i], "--trace") == 0)
            trace = true;
        else
            break;
    }
    if (i >= argc || (!check && argc - i != 1)) {
        fprintf(stderr, "usage: machine2yaml [--x2apic] [--no-expect] [--trace] "
                        "INPUT"
                        "\n       machine2yaml --check INPUT...\n");
        return 2;
    }
    for (; i < argc; i++) {
        size_t len = 0;
        uint8_t *data = kit_read_file(argv[i], 64u << 20, &len);
        char msg[1024];
        if (!data) {
            fprintf(stderr, "machine2yaml: cannot read %s\n", argv[i]);
            return 2;
        }
        if (!check) {
            rc = convert(argv[i], data, len, x2, expect, trace);
        } else if (mo_check_input(data, len, msg, sizeof msg)) {
            fprintf(stderr, "%s: %s\n", argv[i], msg);
            rc = 1;
        }
        free(data);
    }
    return rc;
}
