#!/usr/bin/env python3
"""The driver of scripts/bench-quorum: three fogline-edge nodes and a three-member etcd cluster on
loopback, driven with one client pattern.

Usage: bench-quorum-driver.py BIN_DIR WORK_DIR

The pattern is written once (``cas_loop`` and ``lease_once``) over a small backend interface
(``read`` → version, ``cas`` → ok, ``acquire``/``release``); ``Fogline`` speaks the edge admin
API, ``Etcd`` etcd 3.4's HTTP/JSON gateway. Each client thread holds one keep-alive HTTP/1.1
connection (http.client) to one member, client i to member i mod 3, for both systems.

- CAS: each client loops "read my key's version; compare-and-set it to that version"; every
  client has a key of its own, so a CAS never loses to another client (conflicts are counted and
  should be 0). The figure is successful CASes per second over BENCH_CAS_SECONDS; the latency is
  that of the CAS request alone (the read is reported beside it). A 5xx answer (no quorum within
  the operation timeout, outcome unknown) is counted as an error, its latency kept, and the
  client carries on.
- Leases: one client, one key: acquire then release, BENCH_LEASE_ROUNDS times; the latency is
  acquire→release (both requests). For etcd, the equivalent of Fogline's named lease with a
  fencing token is what etcd's own concurrency.Mutex does: lease grant, a txn that creates the
  key with that lease if it does not exist (its create_revision is the fencing token), and lease
  revoke (which deletes the key). A bare grant→revoke (no name, no exclusion) is reported too.
- RSS: VmRSS of every member process, sampled every 0.25 s over the whole run; per member, max.
  Beside it, each member's VmHWM at the end (the kernel's high-water mark: it sees moments
  between samples, but the kernel updates it lazily, and with fogline-edge's trims it has been
  seen below the sampled max, so it is no upper bound). Each system's program is dropped from the
  page cache before its members start (``start_cold``), so both map their code as read from
  disk, as on a board after boot.

A human table goes to stderr; the last stdout line is one JSON object. Its ``met`` holds the
targets (CAS/s with the most clients ≥ etcd's, CAS p99 with one client ≤ etcd's, RSS ≤ ¼ of etcd's)
and ``all_met`` sums them up; ``ahead`` compares every other ratio with 1.
"""
import base64, http.client, json, os, shutil, signal, socket, subprocess, sys, threading, time

bin_dir, work = sys.argv[1], sys.argv[2]
env = os.environ
CAS_SECONDS = float(env.get("BENCH_CAS_SECONDS", "10"))
CLIENTS = [int(n) for n in env.get("BENCH_CLIENTS", "1,16").split(",")]
LEASE_ROUNDS = int(env.get("BENCH_LEASE_ROUNDS", "300"))
WARMUP_SECONDS = float(env.get("BENCH_WARMUP_SECONDS", "1"))
ONLY = env.get("BENCH_ONLY", "")  # "fogline" or "etcd" to run one side (for profiling)
NAMES = ["edge-a", "edge-b", "edge-c"]
children = []


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def stop_children(*_):
    raise SystemExit(130)


signal.signal(signal.SIGTERM, stop_children)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(name, argv):
    out = open(os.path.join(work, name + ".log"), "wb")
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    children.append(process)
    with open(os.path.join(work, "pids"), "a") as f:
        f.write(f"{process.pid}\n")
    return process


def stop(process, timeout=15):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(what, condition, seconds=60, every=0.1):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (OSError, ValueError, KeyError, http.client.HTTPException) as error:
            last = error
        for process in children:
            if process.poll() is not None:
                raise SystemExit(f"bench-quorum: {process.args[0]} exited ({process.returncode}) while waiting for {what}; "
                                 f"logs are in {work} (BENCH_KEEP=1 keeps them)")
        time.sleep(every)
    raise SystemExit(f"bench-quorum: timed out waiting for {what} ({last}); logs are in {work} (BENCH_KEEP=1 keeps them)")


def start_cold(program):
    """Drops `program` from the page cache (written back first), so the members about to start map
    it as read from disk. Why: on Linux 6.16 and later with ext4, a file just written (the build's
    strip, apt's unpack) stays in the page cache in folios of up to 2 MB, and a process maps a whole
    folio on its first touch of any page of it: one function run can make 2 MB of code resident.
    Read from disk, the cache holds small folios and the kernel maps the 64 KB around each page
    touched, as on a Raspberry Pi (6.6/6.12 kernels) after boot. Only pages no process maps are
    dropped; a no-op where the kernel keeps them."""
    fd = os.open(program, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def rss_mb(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class RSSSampler:
    """Max VmRSS per process over the run."""

    def __init__(self):
        self.processes, self.max, self.running = {}, {}, True
        self.split = {}  # label → (RssAnon, RssFile) MB at the end: heap and stacks, mapped files
        # label → VmHWM MB at the end: the kernel's high-water mark (updated lazily; see the docstring)
        self.peak = {}
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def watch(self, label, pid):
        self.processes[label] = pid
        self.max.setdefault(label, 0.0)

    def run(self):
        while self.running:
            for label, pid in list(self.processes.items()):
                self.max[label] = max(self.max[label], rss_mb(pid))
            time.sleep(0.25)

    def stop(self):
        for label, pid in self.processes.items():
            self.max[label] = max(self.max[label], rss_mb(pid))
            self.split[label] = (rss_mb(pid, "RssAnon"), rss_mb(pid, "RssFile"))
            self.peak[label] = rss_mb(pid, "VmHWM")
        self.running = False


class Unavailable(Exception):
    """A 5xx answer (no quorum, outcome unknown): counted as an error, the client carries on."""


class Connection:
    """One keep-alive HTTP/1.1 connection; JSON in, (status, JSON) out."""

    def __init__(self, port):
        self.port = port
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method, path, body=None):
        data = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            self.http.request(method, path, body=data, headers=headers)
            response = self.http.getresponse()
            payload = response.read()
        except (http.client.HTTPException, OSError):
            self.http.close()  # reconnect once: a keep-alive connection the server closed
            self.http = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.http.request(method, path, body=data, headers=headers)
            response = self.http.getresponse()
            payload = response.read()
        body = json.loads(payload) if payload else {}
        if response.status >= 500:
            raise Unavailable(f"{method} {path}: {response.status} {body}")
        return response.status, body


# ---- Backends: the same four operations on each system -------------------------------------

class Fogline:
    name = "fogline"

    def __init__(self, port):
        self.c = Connection(port)

    def read(self, key):
        status, body = self.c.call("GET", f"/v1/kv/{key}")
        if status not in (200, 404):
            raise RuntimeError(f"fogline read {key}: {status} {body}")
        return int(body.get("version", 0))

    def cas(self, key, version, value):
        status, body = self.c.call("POST", f"/v1/kv/{key}", {"expected_version": version, "value": value})
        if status == 409:
            return False
        if status != 200:
            raise RuntimeError(f"fogline cas {key}: {status} {body}")
        return True

    def acquire(self, key, holder, ttl_ms):
        status, body = self.c.call("POST", f"/v1/leases/{key}/acquire", {"holder": holder, "ttl_ms": ttl_ms})
        if status != 200:
            raise RuntimeError(f"fogline acquire {key}: {status} {body}")
        return (key, holder, body["token"])

    def release(self, grant):
        key, holder, token = grant
        status, body = self.c.call("POST", f"/v1/leases/{key}/release", {"holder": holder, "token": token})
        if status != 200:
            raise RuntimeError(f"fogline release {key}: {status} {body}")


def b64(text):
    return base64.b64encode(text.encode()).decode()


class Etcd:
    name = "etcd"

    def __init__(self, port):
        self.c = Connection(port)

    def read(self, key):
        status, body = self.c.call("POST", "/v3/kv/range", {"key": b64(key)})
        if status != 200:
            raise RuntimeError(f"etcd range {key}: {status} {body}")
        kvs = body.get("kvs") or []
        return int(kvs[0].get("version", 0)) if kvs else 0  # proto3 JSON omits zero values

    def cas(self, key, version, value):
        txn = {"compare": [{"key": b64(key), "target": "VERSION", "result": "EQUAL", "version": str(version)}],
               "success": [{"request_put": {"key": b64(key), "value": b64(json.dumps(value))}}]}
        status, body = self.c.call("POST", "/v3/kv/txn", txn)
        if status != 200:
            raise RuntimeError(f"etcd txn {key}: {status} {body}")
        return bool(body.get("succeeded", False))

    def grant(self, ttl_ms):
        status, body = self.c.call("POST", "/v3/lease/grant", {"TTL": str(max(1, ttl_ms // 1000)), "ID": "0"})
        if status != 200 or "ID" not in body:
            raise RuntimeError(f"etcd lease grant: {status} {body}")
        return body["ID"]

    def revoke(self, lease):
        status, body = self.c.call("POST", "/v3/lease/revoke", {"ID": lease})
        if status != 200:
            raise RuntimeError(f"etcd lease revoke: {status} {body}")

    def acquire(self, key, holder, ttl_ms):
        # Named lease = etcd's concurrency.Mutex: create the key under a fresh lease if absent.
        lease = self.grant(ttl_ms)
        txn = {"compare": [{"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}],
               "success": [{"request_put": {"key": b64(key), "value": b64(holder), "lease": lease}}]}
        status, body = self.c.call("POST", "/v3/kv/txn", txn)
        if status != 200 or not body.get("succeeded", False):
            raise RuntimeError(f"etcd lock {key}: {status} {body}")
        return lease  # the fencing token would be body.header.revision (the key's create_revision)

    def release(self, lease):
        self.revoke(lease)


# ---- The client pattern, once ----------------------------------------------------------------

def percentile(samples, p):
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def cas_loop(make_client, ports, clients, seconds, prefix):
    """`clients` threads, each on its own key and connection (member i mod 3): read the version,
    CAS it, repeat. Returns successful CAS/s and the CAS and read latencies (ms)."""
    start_barrier = threading.Barrier(clients + 1)
    results = [None] * clients
    errors = []
    stop_at = [0.0]
    go = threading.Event()

    def client(i):
        try:
            backend = make_client(ports[i % len(ports)])
            key = f"{prefix}/c{i}"
            for attempt in range(5):  # the key exists before timing starts
                try:
                    backend.cas(key, backend.read(key), {"client": i, "n": 0})
                    break
                except Unavailable:
                    if attempt == 4:
                        raise
            start_barrier.wait()
            go.wait()
            cas_ms, read_ms, ok, conflicts, failed, n = [], [], 0, 0, 0, 0
            while time.monotonic() < stop_at[0]:
                n += 1
                t0 = time.monotonic()
                try:
                    version = backend.read(key)
                except Unavailable:
                    failed += 1
                    read_ms.append((time.monotonic() - t0) * 1000)
                    continue
                t1 = time.monotonic()
                try:
                    if backend.cas(key, version, {"client": i, "n": n}):
                        ok += 1
                    else:
                        conflicts += 1
                except Unavailable:  # its latency counts; the next read finds out what happened
                    failed += 1
                t2 = time.monotonic()
                read_ms.append((t1 - t0) * 1000)
                cas_ms.append((t2 - t1) * 1000)
            results[i] = (ok, conflicts, cas_ms, read_ms, time.monotonic(), failed)
        except BaseException as error:  # noqa: BLE001 - reported below, the others must not hang
            errors.append(f"client {i}: {error}")
            try:
                start_barrier.abort()
            except threading.BrokenBarrierError:
                pass
            go.set()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    try:
        start_barrier.wait(timeout=60)
    except threading.BrokenBarrierError:
        pass
    t_start = time.monotonic()
    stop_at[0] = t_start + seconds
    go.set()
    for t in threads:
        t.join(seconds + 60)
    if errors or any(r is None for r in results):
        raise SystemExit(f"bench-quorum: CAS clients failed: {errors[:3]}; logs in {work}")
    elapsed = max(r[4] for r in results) - t_start
    ok = sum(r[0] for r in results)
    cas_ms = [x for r in results for x in r[2]]
    read_ms = [x for r in results for x in r[3]]
    return dict(per_s=ok / elapsed, ok=ok, conflicts=sum(r[1] for r in results), errors=sum(r[5] for r in results),
                seconds=elapsed,
                p50=percentile(cas_ms, 50), p90=percentile(cas_ms, 90), p99=percentile(cas_ms, 99), max=max(cas_ms),
                mean=sum(cas_ms) / len(cas_ms), slow_over_50ms=sum(1 for x in cas_ms if x > 50),
                read_p50=percentile(read_ms, 50), read_p99=percentile(read_ms, 99))


def lease_once(backend, key, rounds):
    """One client: acquire then release the same named lease, `rounds` times; acquire→release ms."""
    samples = []
    for _ in range(rounds):
        t0 = time.monotonic()
        grant = backend.acquire(key, "bench-holder", 10_000)
        backend.release(grant)
        samples.append((time.monotonic() - t0) * 1000)
    return dict(p50=percentile(samples, 50), p99=percentile(samples, 99), rounds=rounds)


# ---- The clusters ---------------------------------------------------------------------------

def start_broker():
    port = free_port()
    conf = os.path.join(work, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    spawn("mosquitto", ["mosquitto", "-c", conf])

    def up():
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    wait_for("mosquitto to listen", up)
    return port


def start_fogline(broker_port, rss):
    key_file = os.path.join(work, "site.key")
    with open(key_file, "wb") as f:
        f.write(os.urandom(32))
    peer_ports = [free_port() for _ in NAMES]
    admin_ports = [free_port() for _ in NAMES]
    start_cold(os.path.join(bin_dir, "fogline-edge"))
    for i, name in enumerate(NAMES):
        argv = [os.path.join(bin_dir, "fogline-edge"), "run", "--site", "bench-quorum", "--node", name,
                "--broker", f"mqtt://127.0.0.1:{broker_port}", "--data", os.path.join(work, name),
                "--admin", f"127.0.0.1:{admin_ports[i]}", "--listen", f"127.0.0.1:{peer_ports[i]}",
                "--site-key-file", key_file]
        for j, other in enumerate(NAMES):
            if j != i:
                argv += ["--peer", f"{other}=127.0.0.1:{peer_ports[j]}"]
        process = spawn(name, argv)
        rss.watch(name, process.pid)

    def all_live():
        for port in admin_ports:
            status, body = Connection(port).call("GET", "/v1/status")
            members = (body.get("quorum") or {}).get("members") or []
            if status != 200 or len(members) != len(NAMES) or not all(m.get("live") for m in members):
                return False
        return True
    wait_for("every fogline-edge node to report all members live", all_live)

    def shards_placed():  # the nodes' own shard leases are placed (and rebalanced) before any load
        owned, count = [], 0
        for port in admin_ports:
            status, body = Connection(port).call("GET", "/v1/status")
            shards = (body.get("quorum") or {}).get("shards") or {}
            count = int(shards.get("count", 0))
            mine = shards.get("owned") or []
            if not mine:
                return False
            owned += mine
        return count > 0 and sorted(owned) == list(range(count))
    wait_for("every node to own its share of the shards, each shard once", shards_placed)
    return admin_ports


def start_etcd(rss):
    client_ports = [free_port() for _ in NAMES]
    peer_ports = [free_port() for _ in NAMES]
    names = [f"etcd-{n}" for n in "abc"]
    cluster = ",".join(f"{n}=http://127.0.0.1:{p}" for n, p in zip(names, peer_ports))
    start_cold(shutil.which("etcd"))
    for i, name in enumerate(names):
        process = spawn(name, ["etcd", "--name", name, "--data-dir", os.path.join(work, name),
                               "--listen-client-urls", f"http://127.0.0.1:{client_ports[i]}",
                               "--advertise-client-urls", f"http://127.0.0.1:{client_ports[i]}",
                               "--listen-peer-urls", f"http://127.0.0.1:{peer_ports[i]}",
                               "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_ports[i]}",
                               "--initial-cluster", cluster, "--initial-cluster-state", "new",
                               "--initial-cluster-token", "bench-quorum", "--log-level", "warn"])
        rss.watch(name, process.pid)

    def all_healthy():
        for port in client_ports:
            status, body = Connection(port).call("GET", "/health")
            if status != 200 or str(body.get("health")) != "true":
                return False
        return True
    wait_for("every etcd member to report healthy", all_healthy)
    return client_ports


def main():
    rss = RSSSampler()
    fogline = {}
    etcd = {}
    try:
        broker_port = start_broker()
        fogline_ports = start_fogline(broker_port, rss) if ONLY != "etcd" else None
        etcd_ports = start_etcd(rss) if ONLY != "fogline" else None
        systems = [s for s in ((Fogline, fogline_ports, fogline), (Etcd, etcd_ports, etcd)) if s[1]]
        for make, ports, out in systems:  # warm-up: connections, first-key paths, JITs of none
            cas_loop(make, ports, 3, WARMUP_SECONDS, "bench/warmup")
        for n in CLIENTS:
            for make, ports, out in systems:
                log(f"{make.name}: CAS with {n} client(s) for {CAS_SECONDS:g} s...")
                out[f"cas_{n}"] = cas_loop(make, ports, n, CAS_SECONDS, f"bench/cas{n}")
        for make, ports, out in systems:
            log(f"{make.name}: lease acquire→release × {LEASE_ROUNDS}...")
            out["lease"] = lease_once(make(ports[0]), "bench/lease", LEASE_ROUNDS)
        if etcd_ports:
            client = Etcd(etcd_ports[0])
            samples = []
            for _ in range(LEASE_ROUNDS):
                t0 = time.monotonic()
                client.revoke(client.grant(10_000))
                samples.append((time.monotonic() - t0) * 1000)
            etcd["bare_lease"] = dict(p50=percentile(samples, 50), p99=percentile(samples, 99))
    finally:
        rss.stop()
        for process in reversed(children):
            stop(process)

    def r(x, digits=2):
        return round(x, digits) if x == x else None

    result = {}
    for system, out, verb in (("fogline", fogline, "cas"), ("etcd", etcd, "put")):
        if not out:
            continue
        for n in CLIENTS:
            m = out[f"cas_{n}"]
            result[f"{system}_{verb}_per_s_{n}"] = r(m["per_s"], 1)
            result[f"{system}_p50_ms_{n}"] = r(m["p50"], 3)
            result[f"{system}_p99_ms_{n}"] = r(m["p99"], 3)
            result[f"{system}_read_p50_ms_{n}"] = r(m["read_p50"], 3)
            result[f"{system}_read_p99_ms_{n}"] = r(m["read_p99"], 3)
            result[f"{system}_conflicts_{n}"] = m["conflicts"]
            result[f"{system}_errors_{n}"] = m["errors"]  # 5xx answers (no quorum / outcome unknown)
        result[f"{system}_lease_p50_ms"] = r(out["lease"]["p50"], 3)
        result[f"{system}_lease_p99_ms"] = r(out["lease"]["p99"], 3)
        members = [label for label in rss.max if label.startswith("edge-" if system == "fogline" else "etcd-")]
        result[f"{system}_rss_mb_members"] = {label: r(rss.max[label], 1) for label in members}
        result[f"{system}_rss_mb"] = r(max(rss.max[label] for label in members), 1)
        result[f"{system}_rss_anon_mb_final"] = r(max(rss.split[label][0] for label in members), 1)
        result[f"{system}_rss_file_mb_final"] = r(max(rss.split[label][1] for label in members), 1)
        result[f"{system}_vmhwm_mb"] = r(max(rss.peak[label] for label in members), 1)
    if etcd:
        result["etcd_bare_lease_p50_ms"] = r(etcd["bare_lease"]["p50"], 3)
        result["etcd_bare_lease_p99_ms"] = r(etcd["bare_lease"]["p99"], 3)
    result["cas_seconds"] = CAS_SECONDS
    result["lease_rounds"] = LEASE_ROUNDS
    if fogline and etcd:
        for n in CLIENTS:
            result[f"cas_ratio_{n}"] = r(result[f"fogline_cas_per_s_{n}"] / result[f"etcd_put_per_s_{n}"], 3)
            result[f"p99_ratio_{n}"] = r(result[f"fogline_p99_ms_{n}"] / result[f"etcd_p99_ms_{n}"], 3)
        result["lease_p99_ratio"] = r(result["fogline_lease_p99_ms"] / result["etcd_lease_p99_ms"], 3)
        result["rss_ratio"] = r(result["fogline_rss_mb"] / result["etcd_rss_mb"], 3)
        # The targets (issue 4): throughput with the most clients, p99 with one, RSS. Every other
        # ratio is compared with 1 too ("ahead"), without a target: on two shared cores they
        # straddle 1 from run to run.
        most, fewest = max(CLIENTS), min(CLIENTS)
        result["targets"] = {f"cas_ratio_{most}": ">= 1", f"p99_ratio_{fewest}": "<= 1", "rss_ratio": "<= 0.25"}
        compared = {"rss": result["rss_ratio"] <= 0.25, "lease_p99": result["lease_p99_ratio"] <= 1}
        for n in CLIENTS:
            compared[f"throughput_{n}"] = result[f"cas_ratio_{n}"] >= 1
            compared[f"p99_{n}"] = result[f"p99_ratio_{n}"] <= 1
        targeted = {f"throughput_{most}", f"p99_{fewest}", "rss"}
        result["met"] = {check: compared[check] for check in targeted}
        result["all_met"] = all(result["met"].values())
        result["ahead"] = {check: ok for check, ok in compared.items() if check not in targeted}

        def judged(check, bound):
            if check in targeted:
                return f"{bound} {'met' if compared[check] else 'NOT met'}"
            return f"({'ahead' if compared[check] else 'behind'}, no target)"

        def row(name, ours, theirs, ratio, verdict):
            log(f"{name:36} {ours:>12} {theirs:>12} {ratio:>8}   {verdict}")
        log("")
        log(f"3 members each on loopback, client i → member i mod 3, keep-alive HTTP/1.1 (python http.client); "
            f"{CAS_SECONDS:g} s per CAS run, a key per client")
        row("measure", "fogline", "etcd 3.4", "ratio", "target")
        for n in CLIENTS:
            row(f"CAS/s, {n} client(s)", f"{result[f'fogline_cas_per_s_{n}']:,.0f}", f"{result[f'etcd_put_per_s_{n}']:,.0f}",
                f"{result[f'cas_ratio_{n}']:.2f}", judged(f"throughput_{n}", "≥ 1"))
            row(f"  CAS p50 ms, {n} client(s)", f"{result[f'fogline_p50_ms_{n}']:.2f}", f"{result[f'etcd_p50_ms_{n}']:.2f}",
                f"{result[f'fogline_p50_ms_{n}'] / result[f'etcd_p50_ms_{n}']:.2f}", "")
            row(f"  CAS p99 ms, {n} client(s)", f"{result[f'fogline_p99_ms_{n}']:.2f}", f"{result[f'etcd_p99_ms_{n}']:.2f}",
                f"{result[f'p99_ratio_{n}']:.2f}", judged(f"p99_{n}", "≤ 1"))
            row(f"  5xx answers (timeouts), {n} client(s)", f"{result[f'fogline_errors_{n}']}", f"{result[f'etcd_errors_{n}']}", "", "")
            row(f"  read p50/p99 ms, {n} client(s)",
                f"{result[f'fogline_read_p50_ms_{n}']:.2f}/{result[f'fogline_read_p99_ms_{n}']:.2f}",
                f"{result[f'etcd_read_p50_ms_{n}']:.2f}/{result[f'etcd_read_p99_ms_{n}']:.2f}", "", "")
        row("lease acquire→release p50 ms", f"{result['fogline_lease_p50_ms']:.2f}", f"{result['etcd_lease_p50_ms']:.2f}",
            f"{result['fogline_lease_p50_ms'] / result['etcd_lease_p50_ms']:.2f}", "(etcd: grant + create txn + revoke)")
        row("lease acquire→release p99 ms", f"{result['fogline_lease_p99_ms']:.2f}", f"{result['etcd_lease_p99_ms']:.2f}",
            f"{result['lease_p99_ratio']:.2f}", judged("lease_p99", "≤ 1"))
        row("  etcd bare grant→revoke p50/p99 ms", "", f"{result['etcd_bare_lease_p50_ms']:.2f}/{result['etcd_bare_lease_p99_ms']:.2f}", "", "")
        row("RSS MB per member (max)", f"{result['fogline_rss_mb']:.1f}", f"{result['etcd_rss_mb']:.1f}",
            f"{result['rss_ratio']:.2f}", judged("rss", "≤ 0.25"))
        row("  members", " ".join(f"{v:.0f}" for v in result["fogline_rss_mb_members"].values()),
            " ".join(f"{v:.0f}" for v in result["etcd_rss_mb_members"].values()), "", "")
        row("  heap + mapped files at the end", f"{result['fogline_rss_anon_mb_final']:.0f} + {result['fogline_rss_file_mb_final']:.0f}",
            f"{result['etcd_rss_anon_mb_final']:.0f} + {result['etcd_rss_file_mb_final']:.0f}", "", "")
        row("  peak (VmHWM)", f"{result['fogline_vmhwm_mb']:.1f}", f"{result['etcd_vmhwm_mb']:.1f}",
            f"{result['fogline_vmhwm_mb'] / result['etcd_vmhwm_mb']:.2f}", "")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
