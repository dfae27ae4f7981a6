#!/usr/bin/python3
"""Check intc-sim's timeline outputs (docs/traces.md) on one scenario.

check_timeline.py SIM SCENARIO WORKDIR [--rsvg RSVG] [--expect-svg FILE]
check_timeline.py --uc RUNNER IMAGE CPUS WORKDIR [--rsvg RSVG]

Runs the scenario three ways: with the text trace (for the CPU count),
with --events (the events the library reported) and with
--trace=perfetto FILE --svg FILE --record=FILE, then checks

  - the Perfetto file against the trace-event format: an object with
    traceEvents and displayTimeUnit "ns"; every event has ph, name, pid,
    tid and (except metadata) a numeric ts; B/E balanced and properly
    nested per track; X with a duration; every flow id has one "s" and
    one "f", the "s" inside a slice of its track, the "f" at a slice's
    start; counters with numeric args; instants with a scope;
  - the tracks: a thread named "CPU n" for every CPU of the scenario and
    "IOAPIC u pin p" for every pin an event names; every event on a
    named thread; one interrupt slice per ack, one "IR fault" instant per
    ir_fault event;
  - the SVG: well-formed XML with an <svg> root, rendered to a non-empty
    PNG by rsvg-convert; with --expect-svg, byte-equal to that file.

and the same checks (tracks, slices, flows, SVG) on the recording
replayed with --perfetto and --svg, against the replay's own events.
With --uc, the same checks on a Unicorn run instead: RUNNER (intc-uc-run)
runs the firmware IMAGE on CPUS CPUs with --perfetto, --svg and
--events-file (its libintc events in intc-sim's --events form).  The
Python binding's test imports check_perfetto() and check_svg().

Standard library only; exits 1 with the reasons on failure.
"""
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

PIN_EVENTS = {"ioapic_send", "ioapic_line", "ioapic_masked", "remote_irr",
              "polarity_mismatch", "storm", "resample", "trigger_mismatch"}
PHASES = set("BEXiICMsf")

errors = []


def fail(msg):
    errors.append(msg)


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if p.returncode != 0:
        sys.exit("%s: exit %d\n%s" % (" ".join(cmd), p.returncode,
                                      p.stderr))
    return p.stdout


def read_events(path):
    evs = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            fields = dict(p.split("=", 1) for p in parts[1:])
            evs.append((parts[0], fields))
    return evs


def check_fields(evs):
    for n, e in enumerate(evs):
        where = "event %d %r" % (n, e)[:200]
        ph = e.get("ph")
        if ph not in PHASES:
            fail("%s: bad ph" % where)
            continue
        if not isinstance(e.get("name"), str):
            fail("%s: no name" % where)
        for k in ("pid", "tid"):
            if not isinstance(e.get(k), int):
                fail("%s: no integer %s" % (where, k))
        if ph != "M" and not isinstance(e.get("ts"), (int, float)):
            fail("%s: no numeric ts" % where)
        if ph == "X" and not (isinstance(e.get("dur"), (int, float))
                              and e["dur"] >= 0):
            fail("%s: X without dur" % where)
        if ph == "C":
            a = e.get("args")
            if not isinstance(a, dict) or not a or not all(
                    isinstance(v, (int, float)) for v in a.values()):
                fail("%s: counter without numeric args" % where)
        if ph in "iI" and e.get("s", "t") not in ("t", "p", "g"):
            fail("%s: bad instant scope" % where)


def check_slices(evs):
    """B/E balanced and nested per track, in file order; returns the
    slices per track as (start, end) for the flow checks."""
    stacks, slices = {}, {}
    for e in evs:
        tr = (e.get("pid"), e.get("tid"))
        if e["ph"] == "X":
            slices.setdefault(tr, []).append((e["ts"], e["ts"] + e["dur"]))
        if e["ph"] not in "BE":
            continue
        st = stacks.setdefault(tr, [])
        if e["ph"] == "B":
            if st and e["ts"] < st[-1]["ts"]:
                fail("B before its parent's start on %r: %r" % (tr, e))
            st.append(e)
            continue
        if not st:
            fail("E without B on %r: %r" % (tr, e))
            continue
        b = st.pop()
        if b["name"] != e["name"] or e["ts"] < b["ts"]:
            fail("E %r does not close B %r" % (e, b))
        slices.setdefault(tr, []).append((b["ts"], e["ts"]))
    for tr, st in stacks.items():
        if st:
            fail("%d B left open on %r" % (len(st), tr))
    return slices


def check_flows(evs, slices):
    ends = {}
    for e in evs:
        if e["ph"] in "sf":
            if "id" not in e:
                fail("flow event without id: %r" % e)
                continue
            ends.setdefault(e["id"], {}).setdefault(e["ph"], []).append(e)
    for fid, d in ends.items():
        if len(d.get("s", [])) != 1 or len(d.get("f", [])) != 1:
            fail("flow id %r: %d s, %d f" % (fid, len(d.get("s", [])),
                                             len(d.get("f", []))))
            continue
        s, f = d["s"][0], d["f"][0]
        if f["ts"] < s["ts"]:
            fail("flow %r ends before it starts" % fid)
        if not any(a <= s["ts"] <= b for a, b in
                   slices.get((s["pid"], s["tid"]), [])):
            fail("flow %r: s not inside a slice of its track" % fid)
        if not any(a == f["ts"] for a, _ in
                   slices.get((f["pid"], f["tid"]), [])):
            fail("flow %r: f not at a slice start" % fid)
    return len(ends)


def check_tracks(evs, n_cpus, events):
    names = {}
    for e in evs:
        if e["ph"] == "M" and e["name"] == "thread_name":
            names[(e["pid"], e["tid"])] = e["args"]["name"]
    want = {"CPU %d" % c for c in range(n_cpus)}
    for ty, f in events:
        if ty in PIN_EVENTS:
            want.add("IOAPIC %d pin %d" % (int(f["unit"]), int(f["pin"])))
    missing = want - set(names.values())
    if missing:
        fail("tracks missing: %s" % ", ".join(sorted(missing)))
    for e in evs:
        if e["ph"] != "M" and (e["pid"], e["tid"]) not in names:
            fail("event on an unnamed track: %r" % e)
            break
    acks = sum(1 for ty, _ in events if ty == "ack")
    begins = sum(1 for e in evs if e["ph"] == "B" and
                 e.get("cat") == "interrupt")
    if acks != begins:
        fail("%d acks but %d interrupt slices" % (acks, begins))
    faults = sum(1 for ty, _ in events if ty == "ir_fault")
    marks = sum(1 for e in evs if e["ph"] == "i" and
                e["name"].startswith("IR fault"))
    if faults != marks:
        fail("%d ir_fault events but %d IR fault instants" % (faults, marks))
    return len(want)


def check_perfetto(path, n_cpus, events):
    with open(path) as f:
        doc = json.load(f)
    if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"),
                                                   list):
        sys.exit("%s: not a trace-event object" % path)
    if doc.get("displayTimeUnit") != "ns":
        fail("displayTimeUnit is not ns")
    evs = doc["traceEvents"]
    check_fields(evs)
    if errors:
        return
    slices = check_slices(evs)
    flows = check_flows(evs, slices)
    tracks = check_tracks(evs, n_cpus, events)
    print("perfetto: %d events, %d flows, %d required tracks present" %
          (len(evs), flows, tracks))


def check_svg(path, rsvg, expect):
    try:
        root = ET.parse(path).getroot()
        if root.tag != "{http://www.w3.org/2000/svg}svg":
            fail("SVG root is %s" % root.tag)
    except ET.ParseError as e:
        fail("SVG not well-formed: %s" % e)
    if rsvg:
        png = path + ".png"
        run([rsvg, path, "-o", png])
        with open(png, "rb") as f:
            head = f.read(8)
        if head != b"\x89PNG\r\n\x1a\n" or os.path.getsize(png) < 1000:
            fail("rsvg-convert made no PNG")
    if expect:
        with open(path, "rb") as a, open(expect, "rb") as b:
            if a.read() != b.read():
                fail("%s differs from what the tool makes now (%s)" %
                     (expect, path))
    print("svg: well-formed%s%s" % (", rendered" if rsvg else "",
                                    ", matches " + expect if expect else ""))


def report():
    for e in errors[:40]:
        print("FAIL:", e)
    sys.exit(1 if errors else 0)


def main_uc(args, opts):
    runner, image, cpus, work = args
    os.makedirs(work, exist_ok=True)
    ev_path = os.path.join(work, "events.txt")
    js, svg = os.path.join(work, "trace.json"), os.path.join(work, "t.svg")
    run([runner, "--cpus", cpus, "--perfetto", js, "--svg", svg,
         "--events-file", ev_path, image])
    check_perfetto(js, int(cpus), read_events(ev_path))
    check_svg(svg, opts.get("--rsvg"), None)
    report()


def main():
    args = sys.argv[1:]
    opts = {}
    uc = bool(args) and args[0] == "--uc"
    if uc:
        args = args[1:]
    n = 4 if uc else 3
    while len(args) > n:
        opts[args[-2]] = args[-1]
        args = args[:-2]
    if len(args) != n:
        sys.exit(__doc__)
    if uc:
        main_uc(args, opts)
    sim, scenario, work = args
    os.makedirs(work, exist_ok=True)
    head = run([sim, scenario]).splitlines()[0]
    m = re.search(r": (\d+) cpus?, \d+ steps", head)
    if not m:
        sys.exit("no CPU count in %r" % head)
    ev_path = os.path.join(work, "events.txt")
    run([sim, "--trace=none", "--events=" + ev_path, scenario])
    js, svg = os.path.join(work, "trace.json"), os.path.join(work, "t.svg")
    rec = os.path.join(work, "run.intcrec")
    run([sim, "--trace=perfetto", js, "--svg", svg, "--record=" + rec,
         scenario])
    check_perfetto(js, int(m.group(1)), read_events(ev_path))
    check_svg(svg, opts.get("--rsvg"), opts.get("--expect-svg"))
    check_replay(sim, rec, work, int(m.group(1)), opts.get("--rsvg"))
    report()


def check_replay(sim, rec, work, n_cpus, rsvg):
    """The same run's recording replayed with --perfetto and --svg: the
    same checks against the replay's own events (the replay samples no
    registers, so it has no counters)."""
    ev_path = os.path.join(work, "replay-events.txt")
    js = os.path.join(work, "replay.json")
    svg = os.path.join(work, "replay.svg")
    run([sim, "--replay", rec, "--trace=none", "--events=" + ev_path,
         "--perfetto=" + js, "--svg=" + svg])
    check_perfetto(js, n_cpus, read_events(ev_path))
    check_svg(svg, rsvg, None)


if __name__ == "__main__":
    main()
