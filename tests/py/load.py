#!/usr/bin/env python3
"""Load: N concurrent clients creating, starting, execing, logging and removing containers.

    load.py --socket /path/docker.sock --pid DAEMON_PID [--clients 16] [--seconds 600]

Each client loops until the time is up: create (busybox, a shell that prints `started` and
sleeps), start, exec `echo hi` (output checked), logs (until `started` shows), remove -f. Every
call has a timeout, so a deadlocked daemon shows up as errors instead of a hung run. Prints one
JSON object: operations, ops/s, p50/p99 per operation and overall (ms), errors by operation with
samples, and the daemon's RSS (kB) before, at the end of the warm-up (the first tenth), at the
peak, at the end and after the containers are gone.
"""

import argparse
import json
import threading
import time

import docker

LABEL = "shoal-load"


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def percentile(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.lat = {}
        self.errors = {}

    def ok(self, op, secs):
        with self.lock:
            self.lat.setdefault(op, []).append(secs * 1000.0)

    def err(self, op, e):
        with self.lock:
            self.errors.setdefault(op, []).append(f"{type(e).__name__}: {e}"[:300])


def timed(stats, op, f):
    t = time.monotonic()
    try:
        r = f()
    except Exception as e:  # every failure is counted and reported, never raised
        stats.err(op, e)
        return None, False
    stats.ok(op, time.monotonic() - t)
    return r, True


def worker(idx, base_url, deadline, stats, timeout):
    c = docker.APIClient(base_url=base_url, version="1.41", timeout=timeout)
    n = 0
    while time.monotonic() < deadline:
        name = f"load-{idx}-{n}"
        n += 1
        _, ok = timed(
            stats,
            "create",
            lambda: c.create_container(
                "busybox",
                ["sh", "-c", "echo started; sleep 600"],
                name=name,
                labels={LABEL: "1"},
                host_config=c.create_host_config(network_mode="none"),
            ),
        )
        if not ok:
            continue
        _, ok = timed(stats, "start", lambda: c.start(name))
        if ok:
            def do_exec():
                e = c.exec_create(name, ["echo", "hi"])
                out = c.exec_start(e)
                if out != b"hi\n":
                    raise RuntimeError(f"exec output {out!r}")
            timed(stats, "exec", do_exec)

            def do_logs():
                # The shell may not have printed yet: ask again for up to 10 s.
                end = time.monotonic() + 10
                while True:
                    out = c.logs(name)
                    if b"started" in out:
                        return
                    if time.monotonic() > end:
                        raise RuntimeError(f"logs {out!r} without 'started'")
                    time.sleep(0.05)
            timed(stats, "logs", do_logs)
        timed(stats, "remove", lambda: c.remove_container(name, force=True))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    base_url = f"unix://{a.socket}"
    stats = Stats()
    rss = {"before": rss_kb(a.pid)}
    samples = []
    start = time.monotonic()
    deadline = start + a.seconds
    stop = threading.Event()

    def sampler():
        warm = start + a.seconds / 10
        while not stop.wait(1.0):
            samples.append(rss_kb(a.pid))
            if "warm" not in rss and time.monotonic() >= warm:
                rss["warm"] = samples[-1]

    s = threading.Thread(target=sampler, daemon=True)
    s.start()
    threads = [
        threading.Thread(target=worker, args=(i, base_url, deadline, stats, a.timeout))
        for i in range(a.clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    stop.set()
    s.join()
    rss["end"] = rss_kb(a.pid)
    rss["peak"] = max(samples + [rss["end"]])
    rss.setdefault("warm", rss["end"])

    c = docker.APIClient(base_url=base_url, version="1.41", timeout=a.timeout)
    left = c.containers(all=True, filters={"label": LABEL})
    for x in left:
        c.remove_container(x["Id"], force=True)
    time.sleep(5)
    rss["settled"] = rss_kb(a.pid)
    ping_ok = c.ping()

    all_lat = [x for v in stats.lat.values() for x in v]
    report = {
        "clients": a.clients,
        "seconds": round(elapsed, 1),
        "operations": len(all_lat),
        "ops_per_s": round(len(all_lat) / elapsed, 2),
        "p50_ms": percentile(all_lat, 0.50),
        "p99_ms": percentile(all_lat, 0.99),
        "per_op": {
            op: {
                "n": len(v),
                "p50_ms": round(percentile(v, 0.50), 1),
                "p99_ms": round(percentile(v, 0.99), 1),
            }
            for op, v in sorted(stats.lat.items())
        },
        "errors": sum(len(v) for v in stats.errors.values()),
        "error_samples": {op: v[:5] for op, v in stats.errors.items()},
        "left_behind": len(left),
        "rss_kb": rss,
        "ping_after": ping_ok,
    }
    for k in ("p50_ms", "p99_ms"):
        if report[k] is not None:
            report[k] = round(report[k], 1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
