/*
 * The recorder and the replayer (record.h, docs/recording.md): a varied
 * run recorded and replayed gives the same results, the same event
 * stream and a byte-identical final image; damaged recordings are
 * refused with the record named; a failing sink stops the recording;
 * recording changes nothing in what the machine does.
 *
 * Both sides run on the test kit's host (testkit/kit.h): the recorded
 * machine's host has guest memory and every callback of the kit, and
 * calls back into the machine from its deferred callbacks through
 * h->hooks; the replayer's host collects what the replayed machine
 * reports.
 */
#include "harness.h"
#include "ioapic_util.h"
#include "vtd_util.h"

#include <stdlib.h>
#include <string.h>

/* ---- the recording side: a kit host with guest memory and every
   callback (th_full_ops), the calls its deferred callbacks make (kit
   hooks, ctx an rt_ctx), and the sink ---- */

typedef struct rt_ctx {
    th_host *h;            /* the recorded machine's host */
    intc_machine *m;
    uint8_t *out;          /* the recording */
    size_t n_out, cap;
    unsigned n_writes;
    unsigned fail_at;      /* the fail_at-th write fails (0: none) */
    bool ack_from_kick;    /* kick(cpu 3) acknowledges from inside */
    int kick_acked;
    uint32_t deassert_on_eoi; /* eoi(gsi) de-asserts that GSI (~0: no) */
    bool record_from_kick; /* kick() tries to start a recording */
    intc_err kick_record;
    size_t ev_from;        /* events before the recording started */
    /* The host's kicks, EOI resamples and APIC base changes before the
       recording started (rt_record). */
    unsigned kicks_from, eois_from, bases_from;
} rt_ctx;

/* The sink (intc_record_fn), ctx an rt_ctx. */
static int rt_write(void *ctx, const void *buf, size_t len)
{
    rt_ctx *x = ctx;
    x->n_writes++;
    if (x->fail_at && x->n_writes >= x->fail_at)
        return -1;
    if (x->n_out + len > x->cap) {
        x->cap = (x->n_out + len) * 2;
        x->out = realloc(x->out, x->cap);
        assert_non_null(x->out);
    }
    memcpy(x->out + x->n_out, buf, len);
    x->n_out += len;
    return 0;
}

/* Hooks: run after the kit recorded the kick or the EOI resample. */
static void rt_kick(void *ctx, uint32_t cpu)
{
    rt_ctx *x = ctx;
    if (x->ack_from_kick && cpu == 3)
        x->kick_acked = intc_lapic_ack(intc_machine_lapic(x->m, 3));
    if (x->record_from_kick)
        x->kick_record = intc_machine_record(x->m, rt_write, x);
}

static void rt_eoi(void *ctx, uint32_t gsi)
{
    rt_ctx *x = ctx;
    if (gsi == x->deassert_on_eoi)
        assert_int_equal(intc_machine_set_gsi(x->m, gsi, false), INTC_OK);
}

/* h gets guest memory (vtd_util.h's window, zeroed), every callback of
   the kit (apic_base_changed() and eoi() recorded) and x's hooks. */
static void rt_init(rt_ctx *x, th_host *h)
{
    memset(x, 0, sizeof(*x));
    x->h = h;
    x->deassert_on_eoi = UINT32_MAX;
    th_full_ops(h);
    vt_memory(h);
    h->hooks = (kit_hooks){.ctx = x, .kick = rt_kick, .eoi = rt_eoi};
}

static void rt_fini(rt_ctx *x)
{
    x->h->hooks = (kit_hooks){0};
    free(x->out);
    x->out = NULL;
}

static intc_machine *rt_machine(rt_ctx *x, const intc_machine_config *cfg)
{
    x->m = th_machine(x->h, cfg);
    return x->m;
}

/* Start recording x->m into x's sink, noting what the host has seen so
   far. */
static void rt_record(rt_ctx *x)
{
    x->ev_from = x->h->n_events;
    x->kicks_from = x->h->n_kicks;
    x->eois_from = x->h->n_eois;
    x->bases_from = x->h->n_base_changes;
    assert_int_equal(intc_machine_record(x->m, rt_write, x), INTC_OK);
}

static uint8_t *save(intc_machine *m, size_t *len)
{
    uint8_t *img;
    assert_int_equal(intc_machine_save(m, NULL, 0, len), INTC_ERR_NOSPC);
    img = malloc(*len);
    assert_non_null(img);
    assert_int_equal(intc_machine_save(m, img, *len, len), INTC_OK);
    return img;
}

static void events_equal(const th_host *a, size_t from, const th_host *b)
{
    assert_int_equal(a->n_events_lost, 0);
    assert_int_equal(b->n_events_lost, 0);
    assert_int_equal(a->n_events - from, b->n_events);
    for (size_t i = 0; i < b->n_events; i++) {
        const intc_event *p = &a->events[from + i], *q = &b->events[i];
        if (p->type != q->type || p->cpu != q->cpu ||
            p->vector != q->vector || p->unit != q->unit ||
            p->pin != q->pin || p->data != q->data || p->data2 != q->data2)
            fail_msg("event %zu differs: %s vs %s", i,
                     intc_event_name(p->type), intc_event_name(q->type));
    }
}

/* Replay x's recording on a fresh kit host with every callback; its
   final image must be img, its events those x's host saw from ev_from
   on, its kicks, EOI resamples and APIC base changes as many as x's
   host saw while recording (rt_record).  Returns the replay host (free
   with th_host_free after the checks). */
static th_host *replay_check(rt_ctx *x, const uint8_t *img, size_t len,
                             size_t ev_from)
{
    th_host *h2 = th_host_new();
    intc_err err = INTC_ERR_INVAL;
    intc_replay *r;
    size_t n2;
    uint8_t *img2;
    unsigned kicks0, eois0, bases0;

    assert_non_null(h2);
    th_full_ops(h2);
    r = intc_replay_new(x->out, x->n_out, &h2->ops, h2, &err);
    assert_non_null(r);
    if (err)
        fail_msg("replay_new: %s: %s", intc_err_name(err),
                 intc_replay_errmsg(r));
    th_clear_events(h2);
    kicks0 = h2->n_kicks;
    eois0 = h2->n_eois;
    bases0 = h2->n_base_changes;
    err = intc_replay_run(r);
    if (err)
        fail_msg("replay: %s: %s", intc_err_name(err), intc_replay_errmsg(r));
    assert_int_equal(intc_replay_step(r), 0);
    assert_string_equal(intc_replay_errmsg(r), "");
    img2 = save(intc_replay_machine(r), &n2);
    assert_int_equal(n2, len);
    assert_memory_equal(img, img2, len);
    events_equal(x->h, ev_from, h2);
    assert_int_equal(h2->n_kicks - kicks0, x->h->n_kicks - x->kicks_from);
    assert_int_equal(h2->n_eois - eois0, x->h->n_eois - x->eois_from);
    assert_int_equal(h2->n_base_changes - bases0,
                     x->h->n_base_changes - x->bases_from);
    free(img2);
    intc_replay_free(r);
    assert_int_equal(h2->live_bytes, 0);
    return h2;
}

/* ---- the workload ---- */

static void lapic_work(rt_ctx *x, th_host *h)
{
    intc_machine *m = x->m;
    intc_lapic *c0 = intc_machine_lapic(m, 0), *c1 = intc_machine_lapic(m, 1);
    intc_lapic *c2 = intc_machine_lapic(m, 2);
    uint64_t v;
    uint8_t sipi;

    /* xAPIC registers and an IPI; cpu 1 also folds a vector posted
       before recording started (an input of its ack). */
    lw(c0, INTC_LAPIC_TPR, 0x10);
    (void)lr(c0, INTC_LAPIC_PPR);
    ipi(c0, 1, 0x40);
    assert_int_equal(intc_lapic_ack(c1), 0x55);
    lw(c1, INTC_LAPIC_EOI, 0);
    assert_int_equal(intc_lapic_ack(c1), 0x40);
    lw(c1, INTC_LAPIC_EOI, 0);
    assert_int_equal(intc_lapic_mmio_read(c0, 0x3a0, 4, &v), INTC_OK);
    assert_int_equal(intc_lapic_mmio_write(c0, 0x301, 1, 1), INTC_OK);
    /* x2APIC: mode switch (apic_base_changed), self IPI, EOI by MSR. */
    x2_enable(c2);
    mw(c2, X2MSR(INTC_LAPIC_SELF_IPI), 0x60);
    assert_int_equal(intc_lapic_ack(c2), 0x60);
    mw(c2, X2MSR(INTC_LAPIC_EOI), 0);
    assert_int_equal(intc_lapic_msr_read(c2, 0x8ff, &v), INTC_ERR_GP);
    /* Timers: one-shot with the clock moving, periodic, TSC deadline. */
    lw(c0, INTC_LAPIC_TIMER_DCR, 0xb);
    lw(c0, INTC_LAPIC_LVT_TIMER, 0x30);
    lw(c0, INTC_LAPIC_TIMER_ICR, 1000);
    h->now += 400;
    (void)lr(c0, INTC_LAPIC_TIMER_CCR);
    h->now += 700;
    assert_int_equal(intc_lapic_timer_expired(c0, h->now), INTC_OK);
    assert_int_equal(intc_lapic_ack(c0), 0x30);
    lw(c0, INTC_LAPIC_EOI, 0);
    lw(c0, INTC_LAPIC_LVT_TIMER, 0x31 | 1u << 17);
    lw(c0, INTC_LAPIC_TIMER_ICR, 100);
    h->now += 350;
    assert_int_equal(intc_lapic_timer_expired(c0, h->now), INTC_OK);
    mw(c2, X2MSR(INTC_LAPIC_LVT_TIMER), 0x32 | 2u << 17);
    assert_int_equal(intc_lapic_set_tsc_offset(c2, 12345), INTC_OK);
    mw(c2, INTC_MSR_TSC_DEADLINE, intc_machine_tsc(m, 2) + 200);
    h->now += 300;
    assert_int_equal(intc_lapic_timer_expired(c2, h->now), INTC_OK);
    (void)mr(c2, INTC_MSR_TSC_DEADLINE);
    /* The rest of the CPU interface. */
    assert_int_equal(intc_lapic_set_tpr(c0, 0x20), INTC_OK);
    assert_int_equal(intc_lapic_set_lint(c0, 1, true), INTC_OK);
    assert_int_equal(intc_lapic_raise_lvt(c0, INTC_LVT_THERMAL), INTC_OK);
    ipi(c0, 1, ICR_NMI);
    assert_int_equal(intc_lapic_take(c1, INTC_PEND_NMI, &sipi), 1);
    assert_int_equal(intc_lapic_take(c1, INTC_PEND_SMI, &sipi), 0);
    assert_int_equal(intc_lapic_post(c0, 0x91, true), 1);
    assert_int_equal(intc_lapic_sync_pir(c0, NULL), INTC_OK);
    {
        const uint64_t pir[4] = {0, 1ull << 2, 0, 0};
        assert_int_equal(intc_lapic_sync_pir(c0, pir), INTC_OK);
    }
}

static void device_work(rt_ctx *x, intc_msix *mx, intc_msi *mc)
{
    intc_machine *m = x->m;
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *c0 = intc_machine_lapic(m, 0), *c3 = intc_machine_lapic(m, 3);
    intc_delivery d;
    uint64_t v;

    /* IOAPIC: an edge pin, then a level pin whose EOI resamples; the
       host de-asserts it from eoi() (a call from a deferred callback). */
    rte_set(io, 2, RTE_VEC(0x70) | RTE_DEST(0));
    assert_int_equal(intc_ioapic_set_irq(io, 2, true), INTC_OK);
    assert_int_equal(intc_ioapic_set_irq(io, 2, false), INTC_OK);
    rte_set(io, 5, RTE_VEC(0x71) | RTE_LEVEL | RTE_DEST(0));
    lw(c0, INTC_LAPIC_TPR, 0);
    assert_int_equal(intc_lapic_set_tpr(c0, 0), INTC_OK);
    x->deassert_on_eoi = 5;
    assert_int_equal(intc_machine_set_gsi(m, 5, true), INTC_OK);
    /* Everything pending on cpu 0, the level vector among it; its EOI
       resamples and the host drops the line from eoi(). */
    for (int i = 0; i < 20 && (v = (uint64_t)intc_lapic_ack(c0)) <= 255; i++)
        lw(c0, INTC_LAPIC_EOI, 0);
    assert_false(intc_ioapic_line(io, 5));
    assert_int_equal(intc_ioapic_set_irq_source(io, 5, 1, true), INTC_OK);
    assert_int_equal(intc_lapic_ack(c0), 0x71);
    lw(c0, INTC_LAPIC_EOI, 0);
    x->deassert_on_eoi = UINT32_MAX;
    assert_int_equal(intc_ioapic_set_irq_source(io, 5, 1, false), INTC_OK);
    assert_int_equal(intc_ioapic_timer_expired(io, 0), INTC_OK);
    /* MSI with source ids, one dropped. */
    assert_int_equal(intc_msi_send(m, 0xfee01000u, 0x42, 0x0300, &d),
                     INTC_OK);
    assert_int_equal(intc_msi_send(m, 0xfee01000u, 0x0342, 0x0301, &d),
                     INTC_OK);
    /* MSI-X: table, enable, notify, pending and unmask. */
    assert_int_equal(intc_msix_table_write(mx, 0, 8, 0xfee00000ull), INTC_OK);
    assert_int_equal(intc_msix_table_write(mx, 8, 4, 0x43), INTC_OK);
    assert_int_equal(intc_msix_table_write(mx, 12, 4, 0), INTC_OK);
    assert_int_equal(intc_msix_table_write(mx, 24, 4, 0x44), INTC_OK);
    assert_int_equal(intc_msix_set_control(mx, true, false), INTC_OK);
    assert_int_equal(intc_msix_notify(mx, 0, NULL), INTC_OK);
    assert_int_equal(intc_msix_notify(mx, 1, &d), INTC_OK);
    assert_int_equal(d.status, INTC_DELIVERY_PENDING);
    assert_int_equal(intc_msix_table_read(mx, 24, 4, &v), INTC_OK);
    assert_int_equal(intc_msix_table_write(mx, 28, 4, 0), INTC_OK);
    /* MSI capability. */
    assert_int_equal(intc_msi_config_write(mc, 4, 4, 0xfee02000u), INTC_OK);
    assert_int_equal(intc_msi_config_write(mc, 12, 2, 0x45), INTC_OK);
    assert_int_equal(intc_msi_config_write(mc, 2, 2, 0x0001), INTC_OK);
    assert_int_equal(intc_msi_notify(mc, 0, NULL), INTC_OK);
    /* A call from inside kick(): cpu 3 acknowledges as it is kicked. */
    sw_enable(c3);
    x->ack_from_kick = true;
    ipi(c0, 3, 0x66);
    x->ack_from_kick = false;
    assert_int_equal(x->kick_acked, 0x66);
    lw(c3, INTC_LAPIC_EOI, 0);
    assert_int_equal(intc_lapic_reset(c3, true), INTC_OK);
}

static void vtd_work(rt_ctx *x)
{
    intc_machine *m = x->m;
    intc_iommu *u = intc_machine_iommu(m);
    intc_irq irq;
    intc_delivery d;

    irte_put(x->h, IRT_A, 1, irte_lo(0x80, IRTE_XDST(1)), 0);
    irte_put(x->h, IRT_A, 2, pirte_lo(0x81, PID_A), pirte_hi(PID_A));
    pid_put(x->h, PID_A, pid_ctl(0xf0, 1u << 8));
    ir_enable(u, IRT_A, 3, false, false);
    assert_int_equal(intc_msi_send(m, rmsi(1, false), 0, 0x0400, &d),
                     INTC_OK);
    assert_int_equal(intc_msi_send(m, rmsi(2, false), 0, 0x0400, &d),
                     INTC_OK);
    assert_int_equal(d.status, INTC_DELIVERY_POSTED);
    assert_int_equal(intc_msi_send(m, rmsi(9, false), 0, 0x0400, &d),
                     INTC_OK); /* not present: a fault */
    assert_int_equal(intc_iommu_invalidate(u, INTC_IOMMU_INV_ALL, 0),
                     INTC_OK);
    assert_int_equal(intc_iommu_remap(u, 0x0400, rmsi(1, false), 0, &irq),
                     INTC_OK);
    assert_int_equal(intc_irq_deliver(m, &irq, NULL), INTC_OK);
    (void)r64(u, INTC_VTD_FRR + 8);
}

/* The machine of the varied run, with its devices made before
   recording starts (one freed, so units have a gap) and a vector posted
   and not yet folded. */
static void varied_machine(rt_ctx *x, th_host *h, intc_msix **mx,
                           intc_msi **mc)
{
    static const uint8_t wiring[24] = {[5] = INTC_PIN_LEVEL};
    intc_ioapic_config ioc = {.id = 1, .version = 0x20, .n_pins = 24,
                              .pin_wiring = wiring};
    intc_machine_config cfg;
    intc_msix *dead;

    rt_init(x, h);
    vt_cfg(&cfg, 4);
    cfg.ioapics = &ioc;
    cfg.n_ioapics = 1;
    rt_machine(x, &cfg);
    for (uint32_t i = 0; i < 3; i++)
        sw_enable(intc_machine_lapic(x->m, i));
    dead = intc_msix_new(x->m, 4, 0x0099, NULL);
    *mx = intc_msix_new(x->m, 8, 0x0100, NULL);
    intc_msix_free(dead);
    *mc = intc_msi_new(x->m, 2, true, true, 0x0200, NULL);
    assert_non_null(*mx);
    assert_non_null(*mc);
    (void)intc_lapic_post(intc_machine_lapic(x->m, 1), 0x55, false);
    h->now = 1000;
}

/* Everything, recorded when rec; returns the final image. */
static uint8_t *varied_run(rt_ctx *x, th_host *h, bool rec, size_t *len)
{
    intc_msix *mx, *dead;
    intc_msi *mc;
    size_t n;
    uint8_t *mid;

    varied_machine(x, h, &mx, &mc);
    if (rec) {
        rt_record(x);
        assert_int_equal(intc_machine_recording(x->m), 1);
    }
    lapic_work(x, h);
    device_work(x, mx, mc);
    vtd_work(x);
    /* A snapshot load in the middle, and a device made and freed. */
    mid = save(x->m, &n);
    ipi(intc_machine_lapic(x->m, 0), 1, 0x77);
    assert_int_equal(intc_machine_load(x->m, mid, n), INTC_OK);
    assert_int_equal(intc_machine_load(x->m, mid, n - 1), INTC_ERR_CORRUPT);
    free(mid);
    dead = intc_msix_new(x->m, 2, 0x0500, NULL);
    assert_non_null(dead);
    intc_msix_free(dead);
    if (rec) {
        assert_int_equal(intc_machine_record(x->m, NULL, NULL), INTC_OK);
        assert_int_equal(intc_machine_recording(x->m), 0);
        assert_int_equal(intc_machine_record(x->m, NULL, NULL), INTC_OK);
    }
    return save(x->m, len);
}

static void test_record_replay(void **state)
{
    th_host *h = *state;
    rt_ctx x;
    size_t len;
    uint8_t *img;

    img = varied_run(&x, h, true, &len);
    th_host_free(replay_check(&x, img, len, x.ev_from));
    free(img);
    vt_done(x.m);
    rt_fini(&x);
}

/* Recording changes nothing: the same run without it ends in the same
   state after the same events and the same callbacks, in the same order
   with the same arguments (the kit's callback hash). */
static void test_record_off_unchanged(void **state)
{
    th_host *h = *state, *h2 = th_host_new();
    rt_ctx x, y;
    size_t len, len2;
    uint8_t *a, *b;

    assert_non_null(h2);
    h->hash_callbacks = h2->hash_callbacks = true;
    a = varied_run(&x, h, true, &len);
    b = varied_run(&y, h2, false, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(a, b, len);
    events_equal(h, 0, h2);
    assert_int_equal(h->n_callbacks, h2->n_callbacks);
    assert_int_equal(h->cb_hash, h2->cb_hash);
    free(a);
    free(b);
    vt_done(x.m);
    vt_done(y.m);
    rt_fini(&x);
    rt_fini(&y);
    assert_int_equal(h2->live_bytes, 0);
    th_host_free(h2);
}

/* Recording started mid-run, after timers were armed and state built. */
static void test_record_mid_run(void **state)
{
    th_host *h = *state;
    rt_ctx x;
    intc_msix *mx;
    intc_msi *mc;
    size_t len;
    uint8_t *img;

    varied_machine(&x, h, &mx, &mc);
    lapic_work(&x, h);
    rt_record(&x);
    device_work(&x, mx, mc);
    vtd_work(&x);
    assert_int_equal(intc_machine_record(x.m, NULL, NULL), INTC_OK);
    img = save(x.m, &len);
    th_host_free(replay_check(&x, img, len, x.ev_from));
    free(img);
    vt_done(x.m);
    rt_fini(&x);
}

/* AMD-Vi: remapping through a device table and a 32-bit IRTE in guest
   memory, and a fault. */
#define AMD_DEVTAB (GM_BASE + 0x10000ull)
#define AMD_IRT (GM_BASE + 0x20000ull)
static void test_record_amdvi(void **state)
{
    th_host *h = *state;
    rt_ctx x;
    intc_machine_config cfg;
    intc_err err;
    intc_iommu *u;
    size_t len;
    uint8_t *img;

    rt_init(&x, h);
    intc_machine_config_init(&cfg);
    cfg.n_cpus = 2;
    cfg.iommu.kind = INTC_IOMMU_AMDVI;
    x.m = kit_machine(h, &cfg, &err);
    if (!x.m) {
        assert_int_equal(err, INTC_ERR_UNSUPPORTED);
        rt_fini(&x);
        skip();
    }
    sw_enable(intc_machine_lapic(x.m, 1));
    u = intc_machine_iommu(x.m);
    gm_w64(h, AMD_DEVTAB + 32 * 0x10, 1);
    gm_w64(h, AMD_DEVTAB + 32 * 0x10 + 16,
           1 | 9ull << 1 | AMD_IRT | 2ull << 60);
    gm_w64(h, AMD_IRT + 4 * 0x42, 1 | 1u << 8 | 0x56u << 16);
    rt_record(&x);
    assert_int_equal(intc_iommu_mmio_write(u, INTC_AMDVI_DEVTAB, 8,
                                           AMD_DEVTAB | 1),
                     INTC_OK);
    assert_int_equal(intc_iommu_mmio_write(u, INTC_AMDVI_CONTROL, 8, 1),
                     INTC_OK);
    assert_int_equal(intc_msi_send(x.m, 0xfee01000u, 0x42, 0x10, NULL),
                     INTC_OK);
    assert_int_equal(intc_lapic_ack(intc_machine_lapic(x.m, 1)), 0x56);
    assert_int_equal(intc_msi_send(x.m, 0xfee01000u, 0x42, 0x11, NULL),
                     INTC_OK);
    assert_int_equal(intc_machine_record(x.m, NULL, NULL), INTC_OK);
    img = save(x.m, &len);
    th_host_free(replay_check(&x, img, len, 0));
    free(img);
    vt_done(x.m);
    rt_fini(&x);
}

/* ---- damaged recordings ---- */

static intc_machine_config one_cpu_cfg(void)
{
    intc_machine_config cfg;
    intc_machine_config_init(&cfg);
    return cfg;
}

/* A small recording: one CPU, a few calls with a clock read. */
static void small_recording(rt_ctx *x, th_host *h)
{
    intc_lapic *l;
    intc_machine_config cfg = one_cpu_cfg();
    rt_init(x, h);
    rt_machine(x, &cfg);
    l = intc_machine_lapic(x->m, 0);
    rt_record(x);
    sw_enable(l);
    lw(l, INTC_LAPIC_LVT_TIMER, 0x30);
    lw(l, INTC_LAPIC_TIMER_ICR, 100);
    h->now += 50;
    (void)lr(l, INTC_LAPIC_TIMER_CCR);
    assert_int_equal(intc_machine_record(x->m, NULL, NULL), INTC_OK);
}

/* Run a recording to its end; the error (0 when it replays). */
static intc_err replay_all(th_host *h2, const uint8_t *buf, size_t len,
                           char *msg, size_t msglen, uint64_t *index)
{
    intc_err err = INTC_OK;
    intc_replay *r = intc_replay_new(buf, len, &h2->ops, h2, &err);
    assert_non_null(r);
    if (!err)
        err = intc_replay_run(r);
    if (err)
        assert_int_equal(intc_replay_step(r), err); /* sticky */
    snprintf(msg, msglen, "%s", intc_replay_errmsg(r));
    *index = intc_replay_position(r, NULL);
    intc_replay_free(r);
    assert_int_equal(h2->live_bytes, 0);
    return err;
}

/* The offset of the record of that index (0: after the preamble). */
static size_t record_at(const uint8_t *b, size_t len, unsigned index)
{
    size_t pos = 16;
    for (unsigned i = 0; i < index; i++) {
        uint32_t n;
        assert_true(pos + 9 <= len);
        memcpy(&n, b + pos, 4);
        pos += 9 + n;
    }
    return pos;
}

static uint32_t crc32_ref(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = c >> 1 ^ (0xedb88320u & -(c & 1));
    }
    return ~c;
}

static void fix_crc(uint8_t *b, size_t pos)
{
    uint32_t n, c;
    memcpy(&n, b + pos, 4);
    c = crc32_ref(b + pos + 4, n + 1);
    memcpy(b + pos + 5 + n, &c, 4);
}

/* Every prefix of a small recording is refused, cleanly. */
static void test_record_truncated(void **state)
{
    th_host *h = *state, *h2 = th_host_new();
    rt_ctx x;
    char msg[256];
    uint64_t index;

    small_recording(&x, h);
    assert_int_equal(replay_all(h2, x.out, x.n_out, msg, sizeof msg,
                                &index),
                     INTC_OK);
    for (size_t cut = 0; cut < x.n_out; cut++) {
        intc_err err = replay_all(h2, x.out, cut, msg, sizeof msg, &index);
        if (err != INTC_ERR_CORRUPT)
            fail_msg("cut at %zu: %s (%s)", cut, intc_err_name(err), msg);
        assert_true(msg[0] != '\0');
    }
    intc_machine_free(x.m);
    rt_fini(&x);
    th_host_free(h2);
}

/* A changed byte is a checksum mismatch; a changed result with its
   checksum fixed is a divergence; both name the record. */
static void test_record_tampered(void **state)
{
    th_host *h = *state, *h2 = th_host_new();
    rt_ctx x;
    char msg[256];
    uint64_t index;
    uint8_t *b;
    size_t pos, n_rec = 0;
    uint32_t n;

    small_recording(&x, h);
    b = malloc(x.n_out);
    assert_non_null(b);
    /* The last call before END is the TMCCT read; its result is at
       payload offset 40. */
    while (record_at(x.out, x.n_out, (unsigned)n_rec) < x.n_out)
        n_rec++;
    pos = record_at(x.out, x.n_out, (unsigned)n_rec - 2);
    assert_int_equal(x.out[pos + 4], 16);
    memcpy(b, x.out, x.n_out);
    b[pos + 5 + 40] ^= 1;
    assert_int_equal(replay_all(h2, b, x.n_out, msg, sizeof msg, &index),
                     INTC_ERR_CORRUPT);
    assert_int_equal(index, n_rec - 2);
    assert_non_null(strstr(msg, "checksum"));
    fix_crc(b, pos);
    assert_int_equal(replay_all(h2, b, x.n_out, msg, sizeof msg, &index),
                     INTC_ERR_DIVERGED);
    assert_int_equal(index, n_rec - 2);
    assert_non_null(strstr(msg, "lapic_mmio_read"));
    /* The clock value before it changed: another result. */
    memcpy(b, x.out, x.n_out);
    pos = record_at(x.out, x.n_out, (unsigned)n_rec - 3);
    assert_int_equal(b[pos + 4], 32);
    b[pos + 5 + 4] ^= 8;
    fix_crc(b, pos);
    assert_int_equal(replay_all(h2, b, x.n_out, msg, sizeof msg, &index),
                     INTC_ERR_DIVERGED);
    /* A clock record turned into a guest-memory one. */
    memcpy(b, x.out, x.n_out);
    b[pos + 4] = 33;
    fix_crc(b, pos);
    assert_int_equal(replay_all(h2, b, x.n_out, msg, sizeof msg, &index),
                     INTC_ERR_CORRUPT);
    /* An oversized length, another format version, no magic. */
    memcpy(b, x.out, x.n_out);
    n = 0x7fffffffu;
    memcpy(b + pos, &n, 4);
    assert_int_equal(replay_all(h2, b, x.n_out, msg, sizeof msg, &index),
                     INTC_ERR_CORRUPT);
    assert_non_null(strstr(msg, "oversized"));
    memcpy(b, x.out, x.n_out);
    b[8] = 9;
    assert_int_equal(replay_all(h2, b, x.n_out, msg, sizeof msg, &index),
                     INTC_ERR_VERSION);
    b[8] = 1;
    b[0] = 'X';
    assert_int_equal(replay_all(h2, b, x.n_out, msg, sizeof msg, &index),
                     INTC_ERR_CORRUPT);
    free(b);
    intc_machine_free(x.m);
    rt_fini(&x);
    th_host_free(h2);
}

/* A failing sink ends the recording; the machine goes on unchanged. */
static void test_record_write_fails(void **state)
{
    th_host *h = *state;
    rt_ctx x;
    intc_lapic *l;
    intc_machine_config cfg = one_cpu_cfg();

    rt_init(&x, h);
    rt_machine(&x, &cfg);
    l = intc_machine_lapic(x.m, 0);
    x.fail_at = 1;
    assert_int_equal(intc_machine_record(x.m, rt_write, &x), INTC_ERR_IO);
    assert_int_equal(intc_machine_recording(x.m), 0);
    x.fail_at = 3;
    x.n_writes = 0;
    assert_int_equal(intc_machine_record(x.m, rt_write, &x), INTC_OK);
    sw_enable(l);                 /* write 2 */
    lw(l, INTC_LAPIC_TPR, 0x20);  /* write 3 fails */
    assert_int_equal(intc_machine_recording(x.m), INTC_ERR_IO);
    assert_int_equal(lr(l, INTC_LAPIC_TPR), 0x20);
    assert_int_equal(x.n_writes, 3); /* nothing more was written */
    assert_int_equal(intc_machine_record(x.m, NULL, NULL), INTC_ERR_IO);
    assert_int_equal(intc_machine_recording(x.m), 0);
    assert_int_equal(intc_machine_record(x.m, NULL, NULL), INTC_OK);
    intc_machine_free(x.m);
    rt_fini(&x);
}

/* The event hook of test_record_misuse: tries to start a recording
   from inside event(), a restricted callback. */
typedef struct busy_ctx {
    intc_machine *m;
    intc_err err;
} busy_ctx;

static void busy_event(void *ctx, const intc_event *ev)
{
    busy_ctx *b = ctx;
    (void)ev;
    b->err = intc_machine_record(b->m, rt_write, NULL);
}

/* Host misuse: INVAL, BUSY from callbacks, UNSUPPORTED on a replay. */
static void test_record_misuse(void **state)
{
    th_host *h = *state;
    rt_ctx x;
    intc_lapic *l;
    intc_replay *r;
    intc_err err;
    char msg[8];
    uint64_t index;

    assert_int_equal(intc_machine_record(NULL, rt_write, NULL),
                     INTC_ERR_INVAL);
    assert_int_equal(intc_machine_recording(NULL), 0);
    assert_null(intc_replay_new(NULL, 0, NULL, NULL, &err));
    assert_int_equal(err, INTC_ERR_INVAL);
    assert_int_equal(intc_replay_step(NULL), INTC_ERR_INVAL);
    assert_null(intc_replay_machine(NULL));
    assert_string_equal(intc_replay_errmsg(NULL), "");
    intc_replay_free(NULL);
    assert_int_equal(replay_all(h, (const uint8_t *)"", 0, msg, sizeof msg,
                                &index),
                     INTC_ERR_CORRUPT);

    small_recording(&x, h);
    l = intc_machine_lapic(x.m, 0);
    x.n_out = 0; /* a second recording of the same machine */
    assert_int_equal(intc_machine_record(x.m, rt_write, &x), INTC_OK);
    assert_int_equal(intc_machine_record(x.m, rt_write, &x), INTC_ERR_INVAL);
    /* From a deferred callback (kick) and a restricted one (event). */
    x.record_from_kick = true;
    x.kick_record = INTC_OK;
    lw(l, INTC_LAPIC_ICR_LO, 0x40 | 1u << 18); /* self IPI */
    x.record_from_kick = false;
    assert_int_equal(x.kick_record, INTC_ERR_BUSY);
    assert_int_equal(intc_machine_record(x.m, NULL, NULL), INTC_OK);

    r = intc_replay_new(x.out, x.n_out, NULL, NULL, &err);
    assert_non_null(r);
    assert_int_equal(err, INTC_OK);
    assert_int_equal(intc_machine_record(intc_replay_machine(r), rt_write,
                                         &x),
                     INTC_ERR_UNSUPPORTED);
    assert_int_equal(intc_replay_run(r), INTC_OK);
    intc_replay_free(r);
    intc_machine_free(x.m);
    rt_fini(&x);

    /* From a restricted callback: event(), installed even when the
       tests run untraced (INTC_TEST_EVENTS=0), for its hook. */
    {
        busy_ctx b = {NULL, INTC_OK};
        intc_machine_config zero = {0}, cfg = one_cpu_cfg();
        intc_machine *m;
        h->ops.event = kit_host_ops(true).event;
        h->hooks = (kit_hooks){.ctx = &b, .event = busy_event};
        m = kit_machine(h, &zero, &err);
        assert_null(m);
        m = kit_machine(h, &cfg, &err);
        assert_non_null(m);
        b.m = m;
        sw_enable(intc_machine_lapic(m, 0));
        lw(intc_machine_lapic(m, 0), INTC_LAPIC_ICR_LO, 0x41 | 1u << 18);
        assert_int_equal(b.err, INTC_ERR_BUSY);
        assert_int_equal(intc_machine_recording(m), 0);
        intc_machine_free(m);
        h->hooks = (kit_hooks){0};
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_record_replay, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_record_off_unchanged, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_record_mid_run, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_record_amdvi, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_record_truncated, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_record_tampered, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_record_write_fails, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_record_misuse, th_setup,
                                        th_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
