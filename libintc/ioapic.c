/*
 * libintc — the I/O APIC (Intel 82093AA datasheet; version 0x20 adds the
 * EOI register of later chipsets, e.g. ICH9 13.5.5).
 *
 * A pin's state is the wired-OR of its sources (asserted = logical).  The
 * electrical level is that, inverted for active-low wiring; the IOAPIC's
 * view ("active") inverts it again when the entry is programmed active
 * low.  With the polarity programmed as wired, active == asserted.
 *
 * Every interrupt leaves as an interrupt message (address/data), as on
 * chipsets where the IOAPIC writes to the 0xFEExxxxx range, so it passes
 * through interrupt remapping like an MSI from the same requester.
 */
#include "internal.h"
#include "snap_priv.h"

#include <stdio.h>

/* Stored bits of an entry: vector, delivery mode, destination mode,
   polarity, trigger, mask; in the high dword the destination and, for
   the remappable format, bits 48-55.  DS and Remote IRR are read-only. */
#define RTE_LO_WRITABLE 0x0001afffull
#define RTE_HI_WRITABLE 0xffff0000ull

static inline bool rte_level(uint64_t rte)
{
    return rte & INTC_RTE_LEVEL;
}

static inline unsigned rte_dm(uint64_t rte)
{
    return (unsigned)(rte >> INTC_RTE_DM_SHIFT) & 7;
}

/* What the IOAPIC sees on the pin after the programmed polarity. */
static inline bool pin_active(const struct intc_ioapic_pin *p)
{
    bool asserted = p->sources != 0;
    bool electrical = asserted != !!(p->wiring & INTC_PIN_ACTIVE_LOW);
    return electrical != !!(p->rte & INTC_RTE_ACTIVE_LOW);
}

/* Level semantics apply to fixed and lowest-priority entries only: the
   82093AA requires SMI, NMI, INIT and ExtINT entries to be edge
   triggered (3.2.4, Delivery Mode); libintc treats them as edge whatever
   the trigger bit says, so a misprogrammed entry cannot wedge Remote IRR
   (no EOI ever comes for those). */
static inline bool entry_is_level(uint64_t rte)
{
    unsigned dm = rte_dm(rte);
    return rte_level(rte) && (dm == INTC_DM_FIXED || dm == INTC_DM_LOWEST);
}

static void emit(intc_ioapic *io, intc_event_type type, uint32_t pin,
                 int32_t vector, uint64_t data, uint64_t data2)
{
    if (intc__tracing(io->m))
        intc__emit_unit(io->m, type, INTC_NO_CPU, vector, io->index, pin,
                       data, data2);
}

/* Keep eoi_pins in step with the pin's Remote IRR and send_pending. */
static inline void track(intc_ioapic *io, uint32_t pin)
{
    const struct intc_ioapic_pin *p = &io->pins[pin];
    uint64_t b = 1ull << (pin & 63);
    if ((p->rte & INTC_RTE_REMOTE_IRR) || p->send_pending)
        io->eoi_pins[pin >> 6] |= b;
    else
        io->eoi_pins[pin >> 6] &= ~b;
}

static void set_remote_irr(intc_ioapic *io, uint32_t pin, bool on)
{
    struct intc_ioapic_pin *p = &io->pins[pin];
    uint64_t old = p->rte;
    if (on)
        p->rte |= INTC_RTE_REMOTE_IRR;
    else
        p->rte &= ~INTC_RTE_REMOTE_IRR;
    track(io, pin);
    if (old != p->rte)
        emit(io, INTC_EV_REMOTE_IRR, pin, (int32_t)(p->rte & 0xff), on, 0);
}

/* The entry's interrupt as the IOAPIC writes it to 0xFEExxxxx: what an
   IOMMU remaps, and what the trace shows. */
static inline void rte_wire(uint64_t rte, uint32_t dest, bool level,
                            uint32_t *addr, uint32_t *data)
{
    if (rte & INTC_RTE_REMAPPABLE) {
        /* VT-d 5.1.5.1: the remappable entry carries the handle in
           bits 63:49 and 11, and SHV is 0; the message is built the
           same way a remappable MSI is. */
        uint32_t handle = (uint32_t)((rte >> 49) & 0x7fff) |
                          (uint32_t)((rte >> 11) & 1) << 15;
        *addr = INTC_MSI_ADDR_BASE | (handle & 0x7fff) << 5 |
                INTC_MSI_ADDR_REMAPPABLE | (handle >> 15) << 2;
    } else {
        *addr = INTC_MSI_ADDR_BASE | dest << INTC_MSI_ADDR_DEST_SHIFT |
                ((rte & INTC_RTE_LOGICAL) ? INTC_MSI_ADDR_LOGICAL : 0);
    }
    *data = (uint32_t)(rte & 0xff) | (uint32_t)((rte >> INTC_RTE_DM_SHIFT) & 7)
                                         << INTC_MSI_DATA_DM_SHIFT |
            INTC_MSI_DATA_ASSERT | (level ? INTC_MSI_DATA_LEVEL : 0);
}

/*
 * Send the entry's interrupt.  82093AA: the physical destination is the
 * 4-bit APIC ID in bits 59:56 (all ones is broadcast); version 0x20 uses
 * all of bits 63:56.  The message goes out in its wire form (address/
 * data from the IOAPIC's source-id, as on chipsets where the IOAPIC
 * writes to 0xFEExxxxx) when an IOMMU remaps interrupts; otherwise it is
 * built straight from the entry.
 */
static void send(intc_ioapic *io, uint32_t pin, bool redelivery)
{
    intc_machine *m = io->m;
    struct intc_ioapic_pin *p = &io->pins[pin];
    uint64_t rte = p->rte;
    unsigned dm = rte_dm(rte);
    bool level = entry_is_level(rte);
    uint32_t addr, data, dest;
    intc_delivery res;

    dest = (uint32_t)(rte >> INTC_RTE_DEST_SHIFT);
    if (io->version < 0x20 && !(rte & INTC_RTE_LOGICAL)) {
        dest &= 0xf;
        if (dest == 0xf)
            dest = 0xff;
    }
    emit(io, INTC_EV_IOAPIC_SEND, pin, (int32_t)(rte & 0xff), rte,
         redelivery);
    if (INTC_LIKELY(!m->remap && !(rte & INTC_RTE_REMAPPABLE) &&
                    !(INTC_DM_RESERVED_SET >> dm & 1))) {
        intc_msg msg = {
            .dest = dest,
            .src_cpu = INTC_NO_CPU,
            .vector = (uint8_t)rte,
            .dm = (uint8_t)dm,
            .logical = rte & INTC_RTE_LOGICAL,
            .level = level,
            .assert = true,
        };
        addr = data = 0; /* the wire form is only for the trace */
        if (intc__tracing(m))
            rte_wire(rte, dest, level, &addr, &data);
        intc__send(m, &msg, addr, data, io->source_id, &res);
    } else {
        rte_wire(rte, dest, level, &addr, &data);
        if (m->remap)
            (void)intc__route(m, addr, data, io->source_id, &res);
        else /* remappable format with nothing to remap it; or a
                reserved delivery mode (82093AA 3.2.4) */
            intc__dropped(m, addr, data, io->source_id,
                          (rte & INTC_RTE_REMAPPABLE)
                              ? INTC_MSI_DROP_NO_REMAPPING
                              : INTC_MSI_DROP_RESERVED_MODE,
                          &res);
    }
    /* Remote IRR: "set to 1 when local APIC(s) accept the level
       interrupt" (82093AA 3.2.4); with remapping, posting it to a
       descriptor is the acceptance (VT-d 5.2.3: the remapping hardware
       takes the interrupt; the EOI of the posted vector comes back as
       usual).  One nobody accepted (no APIC matched, or they refused
       it; or remapping blocked it) cannot be EOIed: it stays pending
       (Delivery Status "send pending") and is sent again at the pin's
       next event or the next EOI broadcast. */
    if (level) {
        bool taken = res.status == INTC_DELIVERY_ACCEPTED ||
                     res.status == INTC_DELIVERY_POSTED;
        p->send_pending = !taken;
        if (taken)
            set_remote_irr(io, pin, true);
        else
            track(io, pin);
    }
}

/* Deliver a level entry if the line is active and nothing blocks it. */
static void eval_level(intc_ioapic *io, uint32_t pin, bool redelivery)
{
    struct intc_ioapic_pin *p = &io->pins[pin];
    if (!entry_is_level(p->rte) || !pin_active(p) ||
        (p->rte & (INTC_RTE_MASKED | INTC_RTE_REMOTE_IRR)) ||
        p->throttle_until)
        return;
    send(io, pin, redelivery);
}

static void arm_throttle(intc_ioapic *io)
{
    uint64_t next = UINT64_MAX;
    for (uint32_t i = 0; i < io->n_pins; i++)
        if (io->pins[i].throttle_until && io->pins[i].throttle_until < next)
            next = io->pins[i].throttle_until;
    if (next != io->timer_deadline) {
        io->timer_deadline = next;
        intc__ioapic_timer_arm(io->m, io->index, next);
    }
}

static void line_changed(intc_ioapic *io, uint32_t pin, bool was_active,
                         bool was_asserted)
{
    struct intc_ioapic_pin *p = &io->pins[pin];
    bool asserted = p->sources != 0;
    bool active = pin_active(p);

    if (asserted != was_asserted)
        emit(io, INTC_EV_IOAPIC_LINE, pin, -1, asserted,
             asserted != !!(p->wiring & INTC_PIN_ACTIVE_LOW));
    if (!asserted && was_asserted) {
        /* The device let go: whatever storm there was is over. */
        p->send_pending = false;
        track(io, pin);
        p->redeliveries = 0;
        p->storming = false;
        if (p->throttle_until) {
            p->throttle_until = 0;
            arm_throttle(io);
        }
    }
    if (entry_is_level(p->rte)) {
        eval_level(io, pin, false);
    } else if (active && !was_active) {
        /* Edge: only the inactive-to-active transition counts; an edge
           on a masked pin is lost (82093AA 3.2.4, Interrupt Mask). */
        if (p->rte & INTC_RTE_MASKED)
            emit(io, INTC_EV_IOAPIC_MASKED, pin, (int32_t)(p->rte & 0xff),
                 p->rte, 0);
        else
            send(io, pin, false);
    }
}

static void queue_resample(intc_ioapic *io, uint32_t pin)
{
    struct intc_ioapic_pin *p = &io->pins[pin];
    intc_machine *m = io->m;
    if (!m->ops.eoi || p->resample_queued)
        return;
    p->resample_queued = true;
    intc__queue_resample(m, io->index, pin);
}

/* Clear Remote IRR of every entry with this vector (82093AA 3.2.4; the
   EOI register: only this IOAPIC), then look at each line as it is now:
   one still asserted is delivered again. */
static void eoi_vector(intc_ioapic *io, uint8_t vector)
{
    intc_machine *m = io->m;
    /* Only the pins with Remote IRR or a pending send (eoi_pins), in
       ascending order; each visit may clear its own bit, never set
       another's. */
    for (uint32_t k = 0; k < 2 * 64; k += 64)
    for (uint64_t bits = io->eoi_pins[k >> 6]; bits; bits &= bits - 1) {
        uint32_t i = k + (uint32_t)intc__fls64(bits & -bits);
        struct intc_ioapic_pin *p = &io->pins[i];
        if (p->send_pending) {
            eval_level(io, i, false); /* retry what nobody accepted */
            continue;
        }
        if (!(p->rte & INTC_RTE_REMOTE_IRR) || (p->rte & 0xff) != vector)
            continue;
        set_remote_irr(io, i, false);
        queue_resample(io, i);
        if (!entry_is_level(p->rte) || !pin_active(p) ||
            (p->rte & INTC_RTE_MASKED))
            continue;
        /* Re-delivery with the cause still there: the guest EOIed
           without clearing the device.  Count it; past the threshold it
           is a storm, reported once, and optionally throttled in virtual
           time. */
        p->redeliveries++;
        if (m->cfg.storm_threshold &&
            p->redeliveries >= m->cfg.storm_threshold) {
            if (!p->storming) {
                p->storming = true;
                emit(io, INTC_EV_STORM, i, vector, p->redeliveries, 0);
            }
            if (m->cfg.storm_throttle_ns) {
                uint64_t now = intc__now(m, INTC_NO_CPU);
                uint64_t until = now + m->cfg.storm_throttle_ns;
                p->throttle_until = until < now ? UINT64_MAX - 1 : until;
                arm_throttle(io);
                continue;
            }
        }
        eval_level(io, i, true);
    }
}

void intc__ioapic_eoi(intc_ioapic *io, uint8_t vector)
{
    eoi_vector(io, vector);
}

/* ---- registers ---- */

static uint32_t read_ind(const intc_ioapic *io, uint8_t reg)
{
    if (reg == INTC_IOAPIC_REG_ID)
        return (uint32_t)io->id << 24;
    if (reg == INTC_IOAPIC_REG_VER)
        return io->version | (uint32_t)(io->n_pins - 1) << 16;
    if (reg == INTC_IOAPIC_REG_ARB)
        return io->version < 0x20 ? (uint32_t)io->id << 24 : 0;
    if (reg >= INTC_IOAPIC_REG_RTE0) {
        uint32_t n = (reg - INTC_IOAPIC_REG_RTE0) >> 1;
        if (n < io->n_pins) {
            const struct intc_ioapic_pin *p = &io->pins[n];
            uint64_t rte = p->rte;
            /* Delivery status, "send pending" (82093AA 3.2.4): an
               interrupt injected but held up because no APIC could
               accept it, or held by the storm throttle. */
            if (entry_is_level(rte) && pin_active(p) &&
                !(rte & (INTC_RTE_MASKED | INTC_RTE_REMOTE_IRR)) &&
                (p->send_pending || p->throttle_until))
                rte |= INTC_RTE_DELIVS;
            return (uint32_t)(reg & 1 ? rte >> 32 : rte);
        }
    }
    return 0;
}

static void write_rte(intc_ioapic *io, uint32_t n, bool high, uint32_t val)
{
    struct intc_ioapic_pin *p = &io->pins[n];
    uint64_t old = p->rte;
    bool was_active = pin_active(p);

    if (high)
        p->rte = (p->rte & 0xffffffffull) |
                 ((uint64_t)val << 32 & (RTE_HI_WRITABLE << 32));
    else
        p->rte = (p->rte & ~RTE_LO_WRITABLE) | (val & RTE_LO_WRITABLE);
    /* Remote IRR only has meaning for level entries: switching to edge
       clears it (as Linux relies on to unstick lines, and KVM does). */
    if ((p->rte & INTC_RTE_REMOTE_IRR) && !entry_is_level(p->rte))
        set_remote_irr(io, n, false);
    if (((old ^ p->rte) & (INTC_RTE_ACTIVE_LOW | INTC_RTE_MASKED)) &&
        !(p->rte & INTC_RTE_MASKED) &&
        !!(p->rte & INTC_RTE_ACTIVE_LOW) !=
            !!(p->wiring & INTC_PIN_ACTIVE_LOW))
        emit(io, INTC_EV_POLARITY_MISMATCH, n, (int32_t)(p->rte & 0xff),
             !!(p->rte & INTC_RTE_ACTIVE_LOW),
             !!(p->wiring & INTC_PIN_ACTIVE_LOW));
    /* A level source programmed edge loses every assertion after the
       first while the line stays up; an edge source programmed level
       wedges Remote IRR between pulses.  Say so when it matters. */
    if (((old ^ p->rte) & (INTC_RTE_LEVEL | INTC_RTE_MASKED)) &&
        !(p->rte & INTC_RTE_MASKED) &&
        !!(p->rte & INTC_RTE_LEVEL) != !!(p->wiring & INTC_PIN_LEVEL))
        emit(io, INTC_EV_TRIGGER_MISMATCH, n, (int32_t)(p->rte & 0xff),
             !!(p->rte & INTC_RTE_LEVEL), !!(p->wiring & INTC_PIN_LEVEL));
    (void)was_active;
    /* A level line is looked at as it is now: unmasking (or any change)
       with the line active delivers with the current entry.  Edges are
       only made by the line, never by a register write. */
    eval_level(io, n, false);
}

static void write_ind(intc_ioapic *io, uint8_t reg, uint32_t val)
{
    if (reg == INTC_IOAPIC_REG_ID) {
        io->id = (uint8_t)((val >> 24) & 0xf);
    } else if (reg >= INTC_IOAPIC_REG_RTE0) {
        uint32_t n = (reg - INTC_IOAPIC_REG_RTE0) >> 1;
        if (n < io->n_pins)
            write_rte(io, n, reg & 1, val);
    }
    /* VER, ARB and unimplemented registers are read-only. */
}

static inline bool reg_at(const intc_ioapic *io, uint32_t off)
{
    return off == INTC_IOAPIC_IOREGSEL || off == INTC_IOAPIC_IOWIN ||
           (off == INTC_IOAPIC_EOI && io->version >= 0x20);
}

static bool enter(intc_ioapic *io)
{
    return intc__enter(io->m);
}

/* The recorded twin (internal.h, "recording"). */
INTC_COLD static intc_err mmio_read_rec(intc_ioapic *io, uint32_t off,
                                        unsigned size, uint64_t *val)
{
    intc_err ret;
    INTC_REC_TWIN(io->m, ret, intc_ioapic_mmio_read(io, off, size, val),
                  INTC__OP_IOAPIC_MMIO_READ, io->index, off, size, 0, ret,
                  ret ? 0 : *val);
    return ret;
}

intc_err intc_ioapic_mmio_read(intc_ioapic *io, uint32_t off, unsigned size,
                               uint64_t *val)
{
    uint64_t out = 0;
    if (!io || !val || (size != 1 && size != 2 && size != 4 && size != 8) ||
        off >= 256 || off + size > 256)
        return INTC_ERR_INVAL;
    if (INTC_UNLIKELY(io->m->rec_calls))
        return mmio_read_rec(io, off, size, val);
    if (!enter(io))
        return INTC_ERR_BUSY;
    for (unsigned i = 0; i < size; i++) {
        uint32_t a = off + i, base = a & ~15u;
        uint32_t r;
        if ((a & 15) >= 4 || !reg_at(io, base))
            continue;
        if (base == INTC_IOAPIC_IOREGSEL)
            r = io->ioregsel;
        else if (base == INTC_IOAPIC_IOWIN)
            r = read_ind(io, io->ioregsel);
        else
            r = 0; /* EOI register: write-only */
        out |= (uint64_t)((r >> (8 * (a & 15))) & 0xff) << (8 * i);
    }
    *val = out;
    intc__leave(io->m);
    return INTC_OK;
}

/* The recorded twin (internal.h, "recording"). */
INTC_COLD static intc_err mmio_write_rec(intc_ioapic *io, uint32_t off,
                                         unsigned size, uint64_t val)
{
    intc_err ret;
    INTC_REC_TWIN(io->m, ret, intc_ioapic_mmio_write(io, off, size, val),
                  INTC__OP_IOAPIC_MMIO_WRITE, io->index, off, size, val, ret,
                  0);
    return ret;
}

intc_err intc_ioapic_mmio_write(intc_ioapic *io, uint32_t off, unsigned size,
                                uint64_t val)
{
    if (!io || (size != 1 && size != 2 && size != 4 && size != 8) ||
        off >= 256 || off + size > 256)
        return INTC_ERR_INVAL;
    if (INTC_UNLIKELY(io->m->rec_calls))
        return mmio_write_rec(io, off, size, val);
    if (!enter(io))
        return INTC_ERR_BUSY;
    if (size != 4 || !reg_at(io, off)) {
        /* 82093AA 3.0: the registers are accessed with 32-bit
           operations; anything else is ignored here. */
        if (intc__tracing(io->m))
            intc__emit_unit(io->m, INTC_EV_BAD_ACCESS, INTC_NO_CPU, -1,
                           io->index, off, size, val);
    } else if (off == INTC_IOAPIC_IOREGSEL) {
        io->ioregsel = (uint8_t)val; /* bits 7:0; 31:8 reserved */
    } else if (off == INTC_IOAPIC_IOWIN) {
        write_ind(io, io->ioregsel, (uint32_t)val);
    } else {
        /* The EOI register acts on this IOAPIC only. */
        emit(io, INTC_EV_IOAPIC_EOI, 0, (int32_t)(val & 0xff), 0, 0);
        eoi_vector(io, (uint8_t)val);
    }
    intc__leave(io->m);
    return INTC_OK;
}

/* ---- lines ---- */

/* The recorded twin (internal.h, "recording"). */
INTC_COLD static intc_err set_irq_source_rec(intc_ioapic *io, uint32_t pin,
                                             unsigned source, bool asserted)
{
    intc_err ret;
    INTC_REC_TWIN(io->m, ret, intc_ioapic_set_irq_source(io, pin, source, asserted),
                  INTC__OP_IOAPIC_SET_IRQ, io->index, pin, source, asserted,
                  ret, 0);
    return ret;
}

intc_err intc_ioapic_set_irq_source(intc_ioapic *io, uint32_t pin,
                                    unsigned source, bool asserted)
{
    struct intc_ioapic_pin *p;
    bool was_active, was_asserted;
    if (!io || pin >= io->n_pins || source >= INTC_IOAPIC_MAX_SOURCES)
        return INTC_ERR_INVAL;
    if (INTC_UNLIKELY(io->m->rec_calls))
        return set_irq_source_rec(io, pin, source, asserted);
    if (!enter(io))
        return INTC_ERR_BUSY;
    p = &io->pins[pin];
    was_active = pin_active(p);
    was_asserted = p->sources != 0;
    if (asserted)
        p->sources |= 1u << source;
    else
        p->sources &= ~(1u << source);
    line_changed(io, pin, was_active, was_asserted);
    intc__leave(io->m);
    return INTC_OK;
}

intc_err intc_ioapic_set_irq(intc_ioapic *io, uint32_t pin, bool asserted)
{
    return intc_ioapic_set_irq_source(io, pin, 0, asserted);
}

intc_err intc_machine_set_gsi(intc_machine *m, uint32_t gsi, bool asserted)
{
    if (!m)
        return INTC_ERR_INVAL;
    for (uint32_t i = 0; i < m->n_ioapics; i++) {
        intc_ioapic *io = &m->ioapics[i];
        if (gsi >= io->gsi_base && gsi - io->gsi_base < io->n_pins)
            return intc_ioapic_set_irq(io, gsi - io->gsi_base, asserted);
    }
    return INTC_ERR_RANGE;
}

/* The recorded twin (internal.h, "recording"). */
INTC_COLD static intc_err timer_expired_rec(intc_ioapic *io, uint64_t now_ns)
{
    intc_err ret;
    INTC_REC_TWIN(io->m, ret, intc_ioapic_timer_expired(io, now_ns),
                  INTC__OP_IOAPIC_TIMER_EXPIRED, io->index, now_ns, 0, 0, ret,
                  0);
    return ret;
}

intc_err intc_ioapic_timer_expired(intc_ioapic *io, uint64_t now_ns)
{
    if (!io)
        return INTC_ERR_INVAL;
    if (INTC_UNLIKELY(io->m->rec_calls))
        return timer_expired_rec(io, now_ns);
    if (!enter(io))
        return INTC_ERR_BUSY;
    for (uint32_t i = 0; i < io->n_pins; i++) {
        struct intc_ioapic_pin *p = &io->pins[i];
        if (p->throttle_until && p->throttle_until <= now_ns) {
            p->throttle_until = 0;
            eval_level(io, i, true);
        }
    }
    io->timer_deadline = 0; /* force the host timer to be re-armed */
    arm_throttle(io);
    intc__leave(io->m);
    return INTC_OK;
}

/* ---- queries ---- */

uint32_t intc_ioapic_pin_count(const intc_ioapic *io)
{
    return io ? io->n_pins : 0;
}

uint32_t intc_ioapic_gsi_base(const intc_ioapic *io)
{
    return io ? io->gsi_base : 0;
}

intc_err intc_ioapic_rte(const intc_ioapic *io, uint32_t pin, uint64_t *rte)
{
    if (!io || !rte || pin >= io->n_pins)
        return INTC_ERR_INVAL;
    *rte = (uint64_t)read_ind(io, (uint8_t)(INTC_IOAPIC_REG_RTE0 + 2 * pin)) |
           (uint64_t)read_ind(io, (uint8_t)(INTC_IOAPIC_REG_RTE0 + 2 * pin +
                                            1))
               << 32;
    return INTC_OK;
}

bool intc_ioapic_line(const intc_ioapic *io, uint32_t pin)
{
    return io && pin < io->n_pins && io->pins[pin].sources != 0;
}

/* ---- life cycle ---- */

intc_err intc__ioapic_init(intc_ioapic *io, intc_machine *m, uint32_t index,
                          const intc_ioapic_config *cfg)
{
    memset(io, 0, sizeof(*io));
    io->m = m;
    io->index = index;
    io->version = cfg->version;
    io->n_pins = cfg->n_pins;
    io->gsi_base = cfg->gsi_base;
    io->source_id = cfg->source_id;
    io->timer_deadline = UINT64_MAX;
    io->pins = intc__alloc(m, sizeof(*io->pins) * io->n_pins);
    if (!io->pins)
        return INTC_ERR_NOMEM;
    for (uint32_t i = 0; i < io->n_pins; i++)
        io->pins[i].wiring = cfg->pin_wiring ? cfg->pin_wiring[i] : 0;
    io->id = cfg->id & 0xf;
    io->reset_id = io->id;
    intc__ioapic_do_reset(io);
    io->id = cfg->id & 0xf;
    return INTC_OK;
}

void intc__ioapic_fini(intc_ioapic *io)
{
    if (io->pins)
        intc__free(io->m, io->pins, sizeof(*io->pins) * io->n_pins);
    io->pins = NULL;
}

void intc__ioapic_do_reset(intc_ioapic *io)
{
    /* 82093AA 3.2.4: after reset every entry is masked; the other bits
       are undefined, here 0.  The lines (outside the chip) keep their
       state. */
    io->ioregsel = 0;
    io->id = io->reset_id; /* power-up value: the configured ID */
    for (uint32_t i = 0; i < io->n_pins; i++) {
        struct intc_ioapic_pin *p = &io->pins[i];
        p->rte = INTC_RTE_MASKED;
        p->storming = false;
        p->send_pending = false;
        p->redeliveries = 0;
        p->throttle_until = 0;
    }
    io->eoi_pins[0] = io->eoi_pins[1] = 0;
    if (io->timer_deadline != UINT64_MAX) {
        io->timer_deadline = UINT64_MAX;
        intc__ioapic_timer_arm(io->m, io->index, UINT64_MAX);
    }
}

bool intc__ioapic_check(const intc_ioapic *io, char *msg, size_t len)
{
    for (uint32_t i = 0; i < io->n_pins; i++) {
        const struct intc_ioapic_pin *p = &io->pins[i];
        if ((p->rte & INTC_RTE_REMOTE_IRR) && !entry_is_level(p->rte))
            INTC_FAIL("ioapic %u pin %u: Remote IRR on an edge entry", io->index,
                 i);
        if (p->rte & INTC_RTE_DELIVS)
            INTC_FAIL("ioapic %u pin %u: stored delivery status", io->index, i);
        if (p->throttle_until && io->timer_deadline > p->throttle_until)
            INTC_FAIL("ioapic %u pin %u: throttled with no timer", io->index, i);
        /* An active level line that nothing holds back (mask, Remote IRR,
           throttle) must be a message nobody accepted yet: otherwise the
           interrupt was lost. */
        if (entry_is_level(p->rte) && pin_active(p) &&
            !(p->rte & (INTC_RTE_MASKED | INTC_RTE_REMOTE_IRR)) &&
            !p->throttle_until && !p->send_pending)
            INTC_FAIL("ioapic %u pin %u: active level line neither sent nor "
                      "pending", io->index, i);
        if (!(io->eoi_pins[i >> 6] >> (i & 63) & 1) !=
            !((p->rte & INTC_RTE_REMOTE_IRR) || p->send_pending))
            INTC_FAIL("ioapic %u pin %u: EOI index out of step", io->index, i);
    }
    return true;
}

/* ---- snapshot section ---- */

/* Bits of a redirection entry that can be stored: the writable ones and
   Remote IRR (delivery status is computed on read). */
#define SNAP_RTE_MASK                                                       \
    (RTE_LO_WRITABLE | INTC_RTE_REMOTE_IRR | (uint64_t)RTE_HI_WRITABLE << 32)

INTC__SNAP_INLINE void ioapic_snap(intc__snap *c, const int mode,
                                   intc_ioapic *io)
{
    const intc_machine_config *cfg = &io->m->cfg;
    uint64_t next = UINT64_MAX;

    intc__snap_begin(c, mode, "ioapic", (int32_t)io->index);
    INTC__SNAP(c, mode, io->id, 0xf, "id", -1); /* ID register [27:24] */
    INTC__SNAP(c, mode, io->ioregsel, 0xff, "ioregsel", -1);
    for (uint32_t i = 0; i < io->n_pins; i++) {
        struct intc_ioapic_pin *p = &io->pins[i];
        int32_t pin = (int32_t)i;
        INTC__SNAP_VAR(c, mode, rte, p->rte, SNAP_RTE_MASK, "rte", pin);
        /* Remote IRR only on entries with level semantics. */
        INTC__SNAP_REQ(c, mode,
                       !(rte & INTC_RTE_REMOTE_IRR) || entry_is_level(rte),
                       "rte", pin, "Remote IRR on an edge entry");
        /* INTC_IOAPIC_MAX_SOURCES bits */
        INTC__SNAP(c, mode, p->sources, 0xffffffffu, "sources", pin);
        INTC__SNAP_VAR(c, mode, storming, p->storming, 1, "storming", pin);
        INTC__SNAP_BOOL(c, mode, p->send_pending, "send_pending", pin);
        INTC__SNAP(c, mode, p->redeliveries, 0xffffffffu, "redeliveries",
                   pin);
        INTC__SNAP_VAR(c, mode, until, p->throttle_until, UINT64_MAX,
                       "throttle_until", pin);
        INTC__SNAP_REQ(c, mode, !storming || cfg->storm_threshold,
                       "storming", pin, "storm without a storm threshold");
        /* Throttling happens only in a storm with a throttle set. */
        INTC__SNAP_REQ(c, mode,
                       !until || (storming && cfg->storm_throttle_ns),
                       "throttle_until", pin, "throttled without a storm");
        if (INTC__SNAP_CHECKING(mode) && until && until < next)
            next = until;
    }
    /* The throttle timer is armed at the earliest throttled pin. */
    INTC__SNAP_VAR(c, mode, dl, io->timer_deadline, UINT64_MAX,
                   "timer_deadline", -1);
    INTC__SNAP_REQ(c, mode, dl == next, "timer_deadline", -1,
                   "throttle timer out of step with the pins");
    /* Derived: which pins an EOI broadcast looks at. */
    if (mode == INTC__SNAP_LOAD)
        for (uint32_t i = 0; i < io->n_pins; i++)
            track(io, i);
}

/* One IOAPIC's section of the image (snapshot.c orders the sections).
   LOAD rebuilds the EOI pin index; the machine re-arms the throttle
   timer after LOAD. */
void intc__ioapic_snap(intc__snap *c, intc_ioapic *io)
{
    INTC__SNAP_DISPATCH(c, ioapic_snap, io);
}
