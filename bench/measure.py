#!/usr/bin/env python3
"""Measurements for bench/run.sh, read from /proc and from imbridge's metrics.

  measure.py cpu PID...             CPU ticks (user+system) of these processes
                                    and their children (nginx workers), summed
  measure.py rss PID                resident memory of PID in MB (VmRSS)
  measure.py hist URL METRIC MATCH  cumulative buckets of a histogram from a
                                    /metrics page, summed over the series whose
                                    labels contain MATCH, as JSON
  measure.py quantiles BEFORE AFTER p50 and p99 (ms) of what was observed
                                    between two `hist` snapshots, interpolated
                                    linearly inside a bucket
  measure.py startup BIN CONFIG URL RUNS
                                    median ms from exec of `BIN serve --config
                                    CONFIG` until URL answers 200
  measure.py callgrind LOADED IDLE REQUESTS [TOP]
                                    instructions per request from two
                                    callgrind dumps: LOADED (REQUESTS answered
                                    in its time range) minus IDLE (the same
                                    process unloaded, scaled to the loaded
                                    time: timers, pollers), then the TOP
                                    functions by their own instructions per
                                    request in LOADED
  measure.py load URL REQUESTS CONNECTIONS AUTH [BODY]
                                    exactly REQUESTS requests (GET, or POST of
                                    the JSON file BODY) over CONNECTIONS
                                    keep-alive connections, then stops (wrk
                                    runs for its whole duration); prints the
                                    number answered 2xx
"""

import collections
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

TICKS = os.sysconf("SC_CLK_TCK")


def stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        # The command name may hold spaces; fields after it are fixed.
        return f.read().rsplit(")", 1)[1].split()


def children(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if stat(entry)[1] == str(pid):
                    kids.append(int(entry))
            except OSError:
                pass
    return kids


def cpu(pids):
    ticks = 0
    for pid in pids:
        for p in [pid] + children(pid):
            s = stat(p)
            ticks += int(s[11]) + int(s[12])  # utime, stime
    # Microseconds, so callers divide by a request count directly.
    print(ticks * 1_000_000 // TICKS)


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                print(int(line.split()[1]) // 1024)
                return
    print(0)


def hist(url, metric, match):
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    buckets = {}
    for line in text.splitlines():
        if not line.startswith(metric + "_bucket{") or match not in line:
            continue
        labels, value = line.rsplit(" ", 1)
        le = labels.split('le="', 1)[1].split('"', 1)[0]
        bound = float("inf") if le == "+Inf" else float(le)
        buckets[bound] = buckets.get(bound, 0) + float(value)
    print(json.dumps(sorted(buckets.items(), key=lambda kv: kv[0])))


def quantile(buckets, q):
    total = buckets[-1][1]
    if total == 0:
        return float("nan")
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower
            inside = count - below
            share = (rank - below) / inside if inside else 0
            return lower + (bound - lower) * share
        lower, below = bound, count
    return lower


def quantiles(before_file, after_file):
    with open(before_file) as f:
        before = dict((b, c) for b, c in json.load(f))
    with open(after_file) as f:
        after = json.load(f)
    diff = [(b, c - before.get(b, 0)) for b, c in after]
    diff = [(float("inf") if b is None else b, c) for b, c in diff]
    p50, p99 = (quantile(diff, q) * 1000 for q in (0.5, 0.99))
    print(f"{p50:.3f} {p99:.3f} {int(diff[-1][1])}")


def startup(binary, config, url, runs):
    times = []
    for _ in range(runs):
        started = time.monotonic()
        proc = subprocess.Popen(
            [binary, "serve", "--config", config],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = started + 30
            while time.monotonic() < deadline:
                try:
                    if urllib.request.urlopen(url, timeout=1).status == 200:
                        break
                except OSError:
                    time.sleep(0.002)
            times.append((time.monotonic() - started) * 1000)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"{statistics.median(times):.0f}")


def callgrind_costs(path):
    """Own instructions per function in one callgrind dump (callgrind_annotate
    --inclusive=no misreads these dumps: it puts everything in `clone`)."""
    names, own = {}, collections.Counter()
    current, call_line, seconds = None, False, None

    def name(token):
        m = re.match(r"\((\d+)\)(?: (.*))?", token)
        if not m:
            return token
        if m.group(2):
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), token)

    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("fn="):
                current = name(line[3:].strip())
            elif line.startswith("cfn="):
                name(line[4:].strip())
            elif line.startswith("calls="):
                call_line = True  # the next cost line is the callee's, inclusive
            elif line[:1].isdigit() or line[:1] in "+-*":
                if call_line:
                    call_line = False
                elif current is not None:
                    fields = line.split()
                    if len(fields) > 1:
                        own[current] += int(fields[1])
    return own


def callgrind(loaded, idle, requests, top=25):
    """Each dump's wall seconds are in DUMP.seconds (written by profile.sh)."""
    requests = max(int(requests), 1)
    with open(loaded + ".seconds") as f:
        loaded_s = float(f.read())
    with open(idle + ".seconds") as f:
        idle_s = float(f.read())
    busy, quiet = callgrind_costs(loaded), callgrind_costs(idle)
    total, background = sum(busy.values()), sum(quiet.values()) * loaded_s / max(idle_s, 1e-3)
    print(
        f"{int((total - background) / requests)} instructions per request "
        f"({total:,} in {loaded_s:.0f} s for {requests} requests, less {int(background):,} "
        f"that the idle process spends in as long)"
    )
    for fn, cost in busy.most_common(int(top)):
        print(f"{cost / requests:>10,.0f}  {fn[:150]}")


def load(url, requests, connections, auth, body=None):
    target = urllib.parse.urlsplit(url)
    headers = {"authorization": f"Basic {auth}"}
    payload = None
    if body:
        with open(body, "rb") as f:
            payload = f.read()
        headers["content-type"] = "application/json"
    ok = collections.Counter()

    def client(n, slot):
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
        for _ in range(n):
            conn.request("POST" if payload else "GET", target.path, payload, headers)
            resp = conn.getresponse()
            resp.read()
            ok[slot] += 200 <= resp.status < 300
        conn.close()

    requests, connections = int(requests), int(connections)
    threads = [
        threading.Thread(target=client, args=(requests // connections + (i < requests % connections), i))
        for i in range(connections)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(sum(ok.values()))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "cpu":
        cpu([int(a) for a in args])
    elif cmd == "rss":
        rss(int(args[0]))
    elif cmd == "hist":
        hist(*args)
    elif cmd == "quantiles":
        quantiles(*args)
    elif cmd == "startup":
        startup(args[0], args[1], args[2], int(args[3]))
    elif cmd == "callgrind":
        callgrind(*args)
    elif cmd == "load":
        load(*args)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
