#!/usr/bin/python3
"""CodeCarbon 3.3's CPU and RAM method, written again in Python from its
documentation and code (not from carbond's), run beside a carbon-worker on
the same machine: the reference of bench/codecarbon_side_by_side.sh where
CodeCarbon itself cannot be installed (it is not in Debian 12).

Method (CodeCarbon, tracking_mode "machine", no RAPL, no GPU):
  - CPU: the constant (TDP) mode with its load curve: the machine's CPU load
    is sampled about once a second from /proc/stat (psutil.cpu_percent), each
    sample's power is TDP x (0.1 + 0.9 x load^3), charged over the time since
    the previous sample. TDP: the model's row in cpu_power.csv times the
    sockets, else 4 W per logical CPU (CodeCarbon's unknown-model fallback).
  - RAM: 5 W per estimated DIMM (2 up to 16 GiB, 4 up to 64, 8 up to 128),
    at least 10 W, MemTotal in GiB.
A row ends when the worker's events file shows an epoch: the part of the
second up to then is charged at the load measured then, as CodeCarbon does
at a flush; the samples stay on the one-second grid of the launch.

    codecarbon_reproduction.py EVENTS_FILE WORKER_PID CPU_POWER_CSV OUT_JSON
"""
import csv
import json
import math
import os
import sys
import time


def cpu_times():
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    return total - idle, total


def tdp_watts(table):
    model, threads, packages = "", 0, set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "processor":
                threads += 1
            elif key == "model name" and not model:
                model = value
            elif key == "physical id":
                packages.add(value)
    with open(table, newline="") as f:
        for row in csv.DictReader(f):
            if row["Name"] == model:
                return float(row["TDP"]) * max(1, len(packages)), model
    return 4.0 * threads, model


def ram_watts():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                gib = int(line.split()[1]) / 1024 / 1024
    dimms = 1 if gib <= 2 else 2 if gib <= 16 else 4 if gib <= 64 else 8
    if gib > 128:
        dimms = next((min(32, math.ceil(gib / s)) for s in (128, 64, 32, 16, 8, 4) if s <= gib / 8), 8)
    per = 5.0
    watts = per * min(dimms, 4) + per * 0.9 * max(0, min(dimms, 8) - 4) + per * 0.8 * max(0, min(dimms, 16) - 8) \
        + per * 0.7 * max(0, dimms - 16)
    return max(2 * per, watts), gib


def main():
    events, pid, table, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    tdp, model = tdp_watts(table)
    ram_w, gib = ram_watts()
    rows = []
    row = {"cpu_j": 0.0, "seconds": 0.0}
    last_t = time.monotonic()
    next_tick = last_t + 1.0  # a fixed one-second grid from launch, whatever the rows
    last_busy, last_total = cpu_times()
    offset = 0

    def charge(now):
        nonlocal last_t, last_busy, last_total
        busy, total = cpu_times()
        load = (busy - last_busy) / (total - last_total) if total > last_total else 0.0
        load = min(1.0, max(0.0, load))
        dt = now - last_t
        row["cpu_j"] += tdp * (0.1 + 0.9 * load ** 3) * dt
        row["seconds"] += dt
        last_t, last_busy, last_total = now, busy, total

    def alive():
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False

    while True:
        time.sleep(0.02)
        now = time.monotonic()
        if now >= next_tick:
            charge(now)
            while next_tick <= now:
                next_tick += 1.0
        ended = False
        if os.path.exists(events):
            with open(events) as f:
                f.seek(offset)
                text = f.read()
            complete = text[: text.rfind("\n") + 1]
            offset += len(complete.encode())
            for line in complete.splitlines():
                kind = json.loads(line).get("event")
                if kind == "epoch":
                    charge(time.monotonic())
                    s = row["seconds"]
                    rows.append({"seconds": s, "cpu_kwh": row["cpu_j"] / 3.6e6, "ram_kwh": ram_w * s / 3.6e6,
                                 "cpu_w": row["cpu_j"] / s if s else 0.0, "ram_w": ram_w})
                    row = {"cpu_j": 0.0, "seconds": 0.0}
                ended = ended or kind in ("finished", "failed")
        if ended or not alive():
            break
    with open(out, "w") as f:
        json.dump({"tdp_w": tdp, "cpu_model": model, "ram_w": ram_w, "ram_gib": gib, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
