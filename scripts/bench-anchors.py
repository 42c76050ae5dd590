#!/usr/bin/env python3
"""Anchor half of Fogline's CRDT benchmark: pycrdt (Yjs/yrs) and loro on the IoT twin workload.

Workload (defaults): 1,000 devices x 10 numeric fields, 100 measured rounds. Each round replica A
writes every field once (a new float per round, one transaction / commit per round), then encodes
the delta replica B lacks (from B's state vector / version vector) and B applies it.

  * encode time = obtaining B's state/version vector + exporting the delta from A
  * merge time  = B applying/importing that delta
  * wire bytes  = sum of the exported delta sizes

Setup (round 0: creating the documents, the root map and the nested per-device maps, synced to B)
is not timed. The garbage collector is disabled inside the measured rounds and run between them
(untimed). At the end B is checked against A (sampled fields against the expected values, plus a
full deep-value comparison); a mismatch aborts with exit 2.

Library APIs used:
  pycrdt: Doc(), doc.get("devices", type=Map), nested Map(...) per device, `with A.transaction():`
          for writes; encode: sv = B.get_state(); upd = A.get_update(sv); merge: B.apply_update(upd)
  loro:   LoroDoc(), doc.get_map("devices"), root.insert_container(name, LoroMap()), m.insert(k, v),
          A.commit(); encode: vv = B.oplog_vv; data = A.export(ExportMode.Updates(from_=vv));
          merge: B.import_(data)

The script bootstraps itself: it creates a virtualenv at ${FOGLINE_BENCH_VENV:-.build-bench/venv}
(relative to the repo root), pip-installs the pinned versions from
scripts/bench-anchors-requirements.txt, and re-executes itself inside it.

Output: a human-readable table on stderr (suppressed with --json-only, as are the "running"
progress messages) and, as the last stdout line, one JSON object:
  pycrdt_version, loro_version,
  <lib>_encode_updates_per_s, <lib>_merge_updates_per_s, <lib>_wire_bytes_per_update
Nothing else is printed on stdout.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve()
REPO_ROOT = SCRIPT.parent.parent
REQUIREMENTS = SCRIPT.parent / "bench-anchors-requirements.txt"
IN_VENV_FLAG = "FOGLINE_BENCH_ANCHORS_IN_VENV"
LIBS = ("pycrdt", "loro")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def die(msg: str, code: int = 1) -> "NoReturn":  # type: ignore[name-defined]
    log(f"bench-anchors: error: {msg}")
    sys.exit(code)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {value}")
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Measure pycrdt and loro on the Fogline IoT twin CRDT workload.")
    p.add_argument("--devices", type=positive_int, default=1000, help="devices (default 1000)")
    p.add_argument("--fields", type=positive_int, default=10, help="numeric fields per device (default 10)")
    p.add_argument("--rounds", type=positive_int, default=100, help="measured rounds (default 100)")
    p.add_argument("--json-only", action="store_true",
                   help="print only the JSON line (no table or progress on stderr; errors still go to stderr)")
    return p.parse_args(argv)


# --------------------------------------------------------------------------------------------
# Bootstrap: venv + pinned install + re-exec
# --------------------------------------------------------------------------------------------

def read_pins() -> dict[str, str]:
    if not REQUIREMENTS.is_file():
        die(f"missing requirements file {REQUIREMENTS}")
    pins: dict[str, str] = {}
    for raw in REQUIREMENTS.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if "==" not in line:
            die(f"{REQUIREMENTS}: expected 'name==version', got {line!r}")
        name, version = (s.strip() for s in line.split("==", 1))
        pins[name.lower()] = version
    for lib in LIBS:
        if lib not in pins:
            die(f"{REQUIREMENTS} does not pin {lib}")
    return pins


def venv_dir() -> Path:
    raw = os.environ.get("FOGLINE_BENCH_VENV") or ".build-bench/venv"
    path = Path(raw)
    return path if path.is_absolute() else REPO_ROOT / path


def tail(text: str, lines: int = 15) -> str:
    out = [l for l in text.strip().splitlines() if l.strip()]
    return "\n".join("    " + l for l in out[-lines:])


def installed_versions(py: Path) -> dict[str, str | None]:
    code = (
        "import importlib.metadata as m, json\n"
        "out = {}\n"
        f"for n in {list(LIBS)!r}:\n"
        "    try:\n"
        "        out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError:\n"
        "        out[n] = None\n"
        "print(json.dumps(out))\n"
    )
    r = subprocess.run([str(py), "-c", code], capture_output=True, text=True)
    if r.returncode != 0:
        return {lib: None for lib in LIBS}
    return json.loads(r.stdout.strip().splitlines()[-1])


def bootstrap(argv: list[str]) -> "NoReturn":  # type: ignore[name-defined]
    pins = read_pins()
    venv = venv_dir()
    py = venv / "bin" / "python"
    if not py.exists():
        log(f"bench-anchors: creating virtualenv {venv}")
        venv.parent.mkdir(parents=True, exist_ok=True)
        r = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
        if r.returncode != 0 or not py.exists():
            die("could not create the virtualenv with `python3 -m venv` "
                f"(is the python3-venv package installed?):\n{tail(r.stdout + r.stderr)}")

    have = installed_versions(py)
    missing = [lib for lib in LIBS if have.get(lib) != pins[lib]]
    if missing:
        # Install one library at a time so a failure names the library that could not be installed.
        for lib in missing:
            spec = f"{lib}=={pins[lib]}"
            log(f"bench-anchors: installing {spec} into {venv} (pip, from PyPI)")
            r = subprocess.run(
                [str(py), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", spec],
                capture_output=True, text=True)
            if r.returncode != 0:
                die(f"cannot install {lib} ({spec}) into {venv}: pip exited {r.returncode}:\n"
                    f"{tail(r.stdout + r.stderr)}")
        have = installed_versions(py)
        for lib in LIBS:
            if have.get(lib) != pins[lib]:
                die(f"cannot install {lib}: after pip install the venv has {lib} "
                    f"{have.get(lib)!r}, expected {pins[lib]}")

    # Check the compiled extensions actually load on this machine before re-exec.
    for lib in LIBS:
        r = subprocess.run([str(py), "-c", f"import {lib}"], capture_output=True, text=True)
        if r.returncode != 0:
            die(f"{lib} {pins[lib]} is installed in {venv} but cannot be imported:\n"
                f"{tail(r.stdout + r.stderr)}")

    env = dict(os.environ)
    env[IN_VENV_FLAG] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(str(py), [str(py), str(SCRIPT), *argv], env)


# --------------------------------------------------------------------------------------------
# Workload
# --------------------------------------------------------------------------------------------

def value_for(rnd: int, dev: int, field: int) -> float:
    """A distinct float per (round, device, field); exactly representable for fields <= 16."""
    return (float(rnd * 1_000_003 + dev) + 0.5) + field * 0.0625  # same expression as the write loops


def sample_points(devices: int, fields: int) -> list[tuple[int, int]]:
    pts = {(0, 0), (devices - 1, fields - 1), (devices // 2, fields // 2)}
    step = max(1, devices // 25)
    for d in range(0, devices, step):
        pts.add((d, (d * 7) % fields))
    return sorted(pts)


class Result:
    def __init__(self, lib: str, version: str, updates: int, rounds: int) -> None:
        self.lib = lib
        self.version = version
        self.updates = updates
        self.rounds = rounds
        self.write_ns = 0
        self.encode_ns = 0
        self.merge_ns = 0
        self.wire_bytes = 0
        self.setup_bytes = 0
        self.wall_s = 0.0

    def encode_per_s(self) -> float:
        return self.updates / (self.encode_ns / 1e9)

    def merge_per_s(self) -> float:
        return self.updates / (self.merge_ns / 1e9)

    def bytes_per_update(self) -> float:
        return self.wire_bytes / self.updates


def check_equal(lib: str, mismatches: list[str], a_deep, b_deep) -> None:
    if mismatches:
        shown = "\n".join("    " + m for m in mismatches[:10])
        die(f"{lib}: replica B does not match the expected values after merging "
            f"({len(mismatches)} sampled fields differ):\n{shown}", code=2)
    if a_deep != b_deep:
        die(f"{lib}: replica B's full state differs from replica A's after the last round", code=2)


def bench_pycrdt(devices: int, fields: int, rounds: int) -> Result:
    import importlib.metadata
    from pycrdt import Doc, Map

    res = Result("pycrdt", importlib.metadata.version("pycrdt"), rounds * devices * fields, rounds)
    dev_names = [f"dev-{i:05d}" for i in range(devices)]
    field_names = [f"f{j}" for j in range(fields)]

    # ---- untimed setup (round 0): nested maps created on A and synced to B ----
    a, b = Doc(), Doc()
    a_root = a.get("devices", type=Map)
    with a.transaction():
        for i, name in enumerate(dev_names):
            a_root[name] = Map({f: value_for(0, i, j) for j, f in enumerate(field_names)})
    setup = a.get_update(b.get_state())
    res.setup_bytes = len(setup)
    b.apply_update(setup)
    a_maps = [a_root[name] for name in dev_names]  # integrated nested maps, reused every round
    b_root = b.get("devices", type=Map)
    if len(b_root) != devices:
        die(f"pycrdt: setup sync failed: B has {len(b_root)} devices, expected {devices}", code=2)

    # ---- measured rounds ----
    clock = time.perf_counter_ns
    gc.collect()
    gc.disable()
    try:
        for r in range(1, rounds + 1):
            base = r * 1_000_003
            t0 = clock()
            with a.transaction():
                for i, m in enumerate(a_maps):
                    v0 = float(base + i) + 0.5
                    for j, f in enumerate(field_names):
                        m[f] = v0 + j * 0.0625
            t1 = clock()
            state = b.get_state()
            update = a.get_update(state)
            t2 = clock()
            b.apply_update(update)
            t3 = clock()
            res.write_ns += t1 - t0
            res.encode_ns += t2 - t1
            res.merge_ns += t3 - t2
            res.wire_bytes += len(update)
            del update, state
            gc.collect()
    finally:
        gc.enable()

    # ---- verification ----
    mismatches = []
    for d, f in sample_points(devices, fields):
        want = value_for(rounds, d, f)
        got = b_root[dev_names[d]][field_names[f]]
        if got != want:
            mismatches.append(f"{dev_names[d]}.{field_names[f]}: B={got!r} expected={want!r}")
    check_equal("pycrdt", mismatches, a_root.to_py(), b_root.to_py())
    if a.get_state() != b.get_state():
        die("pycrdt: state vectors of A and B differ after the last round", code=2)
    return res


def bench_loro(devices: int, fields: int, rounds: int) -> Result:
    import importlib.metadata
    from loro import ExportMode, LoroDoc, LoroMap

    res = Result("loro", importlib.metadata.version("loro"), rounds * devices * fields, rounds)
    dev_names = [f"dev-{i:05d}" for i in range(devices)]
    field_names = [f"f{j}" for j in range(fields)]

    # ---- untimed setup (round 0): nested maps created on A and synced to B ----
    a, b = LoroDoc(), LoroDoc()
    a_root = a.get_map("devices")
    a_maps = []
    for i, name in enumerate(dev_names):
        m = a_root.insert_container(name, LoroMap())
        for j, f in enumerate(field_names):
            m.insert(f, value_for(0, i, j))
        a_maps.append(m)
    a.commit()
    setup = a.export(ExportMode.Updates(from_=b.oplog_vv))
    res.setup_bytes = len(setup)
    status = b.import_(setup)
    if status.pending is not None:
        die(f"loro: setup import left pending ops: {status}", code=2)
    b_root = b.get_map("devices")
    if len(b_root.keys()) != devices:
        die(f"loro: setup sync failed: B has {len(b_root.keys())} devices, expected {devices}", code=2)

    # ---- measured rounds ----
    clock = time.perf_counter_ns
    gc.collect()
    gc.disable()
    try:
        for r in range(1, rounds + 1):
            base = r * 1_000_003
            t0 = clock()
            for i, m in enumerate(a_maps):
                v0 = float(base + i) + 0.5
                for j, f in enumerate(field_names):
                    m.insert(f, v0 + j * 0.0625)
            a.commit()
            t1 = clock()
            vv = b.oplog_vv
            data = a.export(ExportMode.Updates(from_=vv))
            t2 = clock()
            status = b.import_(data)
            t3 = clock()
            res.write_ns += t1 - t0
            res.encode_ns += t2 - t1
            res.merge_ns += t3 - t2
            res.wire_bytes += len(data)
            if status.pending is not None:
                die(f"loro: round {r}: import left pending ops: {status}", code=2)
            del data, vv, status
            gc.collect()
    finally:
        gc.enable()

    # ---- verification ----
    mismatches = []
    b_devices = b_root.get_deep_value()
    for d, f in sample_points(devices, fields):
        want = value_for(rounds, d, f)
        got = b_devices.get(dev_names[d], {}).get(field_names[f])
        if got != want:
            mismatches.append(f"{dev_names[d]}.{field_names[f]}: B={got!r} expected={want!r}")
    check_equal("loro", mismatches, a_root.get_deep_value(), b_devices)
    if a.oplog_vv != b.oplog_vv:
        die("loro: version vectors of A and B differ after the last round", code=2)
    return res


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------

def print_table(results: list[Result], args: argparse.Namespace, total_s: float) -> None:
    updates = results[0].updates
    log("")
    log(f"IoT twin workload: {args.devices} devices x {args.fields} fields, {args.rounds} rounds "
        f"= {updates:,} field updates per library")
    head = (f"{'library':<8} {'version':<9} {'encode upd/s':>14} {'merge upd/s':>14} "
            f"{'bytes/upd':>10} {'write upd/s':>13} {'encode s':>9} {'merge s':>9} {'wire KiB':>10}")
    log(head)
    log("-" * len(head))
    for r in results:
        log(f"{r.lib:<8} {r.version:<9} {r.encode_per_s():>14,.0f} {r.merge_per_s():>14,.0f} "
            f"{r.bytes_per_update():>10.3f} {r.updates / (r.write_ns / 1e9):>13,.0f} "
            f"{r.encode_ns / 1e9:>9.3f} {r.merge_ns / 1e9:>9.3f} {r.wire_bytes / 1024:>10.1f}")
    log("(encode = get B's state/version vector + export delta from A; merge = B applies it; "
        "write time is informational and not in the JSON; setup round 0 excluded)")
    for r in results:
        log(f"  {r.lib}: setup sync {r.setup_bytes:,} bytes (untimed), wall {r.wall_s:.2f} s")
    log(f"total benchmark time: {total_s:.2f} s")


def run(args: argparse.Namespace) -> None:
    for lib in LIBS:
        try:
            __import__(lib)
        except Exception as exc:  # noqa: BLE001
            die(f"cannot import {lib} inside {sys.prefix}: {exc!r}")

    start = time.perf_counter()
    results = []
    for lib, fn in (("pycrdt", bench_pycrdt), ("loro", bench_loro)):
        if not args.json_only:
            log(f"bench-anchors: running {lib}: {args.devices} devices x {args.fields} fields, "
                f"{args.rounds} rounds ...")
        t0 = time.perf_counter()
        res = fn(args.devices, args.fields, args.rounds)
        res.wall_s = time.perf_counter() - t0
        results.append(res)
        gc.collect()
    total_s = time.perf_counter() - start

    if not args.json_only:
        print_table(results, args, total_s)

    out: dict[str, object] = {}
    for r in results:
        out[f"{r.lib}_version"] = r.version
    for r in results:
        out[f"{r.lib}_encode_updates_per_s"] = round(r.encode_per_s(), 1)
        out[f"{r.lib}_merge_updates_per_s"] = round(r.merge_per_s(), 1)
        out[f"{r.lib}_wire_bytes_per_update"] = round(r.bytes_per_update(), 4)
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


def main() -> None:
    args = parse_args(sys.argv[1:])
    if os.environ.get(IN_VENV_FLAG) != "1":
        bootstrap(sys.argv[1:])
    run(args)


if __name__ == "__main__":
    main()
