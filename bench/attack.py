#!/usr/bin/env python3
"""The bounded attack suite's driver (bench/attack.sh starts imbridge and a
vendor that hangs, then runs this). Loopback only; every phase is bounded in
count and time, and the whole run stops by itself.

While normal JMessage traffic runs (GET /v1/users/ann with Basic, 4 at a
time), four attacks one after the other:
  logins   600 wrong rongcloud-app logins, 200 at a time
  bodies   32 x 10 MB unauthenticated JSON bodies to POST /v1/users/
  slowhead 500 connections sending their head one byte a second
  hang     200 JMessage calls (50 at a time) on a frontend whose vendor
           accepts and never answers
Reports per phase: attack answers by status, normal traffic count, success
rate, p50/p99; imbridge's peak RSS (VmHWM and sampled VmRSS). Last line: JSON.
"""

import asyncio
import base64
import json
import os
import sys
import time

HOST = "127.0.0.1"
RSS_LIMIT_MB = 300
P99_LIMIT_S = 1.0


def basic(app_key, secret):
    return "Basic " + base64.b64encode(f"{app_key}:{secret}".encode()).decode()


async def request(port, method, path, headers=None, body=b"", timeout=15.0):
    """One HTTP/1.1 request on its own connection: (status, seconds)."""
    started = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(HOST, port), timeout)
        head = [f"{method} {path} HTTP/1.1", "Host: x", "Connection: close",
                f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)
        writer.close()
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    except (OSError, asyncio.TimeoutError, ValueError, IndexError):
        status = 0
    return status, time.monotonic() - started


async def bounded(n, concurrency, make):
    """Runs make(i) for i in 0..n, `concurrency` at a time; the statuses."""
    gate = asyncio.Semaphore(concurrency)

    async def one(i):
        async with gate:
            return (await make(i))[0]

    return await asyncio.gather(*(one(i) for i in range(n)))


def counts(statuses):
    out = {}
    for s in statuses:
        out[str(s)] = out.get(str(s), 0) + 1
    return dict(sorted(out.items()))


async def huge_body(port):
    """Announces 10 MB, sends as much as the server takes, reads the answer."""
    started = time.monotonic()
    status = 0
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
        size = 10 * 1024 * 1024
        writer.write((f"POST /v1/users/ HTTP/1.1\r\nHost: x\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n").encode())
        chunk = b"[" + b"1," * (64 * 1024)

        async def send():
            sent = 0
            try:
                while sent < size:
                    piece = chunk[: size - sent]
                    writer.write(piece)
                    await writer.drain()
                    sent += len(piece)
            except OSError:
                pass  # the server answered and closed: the body stays unsent

        sender = asyncio.ensure_future(send())
        data = await asyncio.wait_for(reader.read(4096), 20)
        sender.cancel()
        writer.close()
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    except ConnectionResetError:
        # Closed with the body unread: the kernel resets the connection and
        # may drop the answer before the client reads it.
        status = "reset"
    except (OSError, asyncio.TimeoutError, ValueError, IndexError):
        pass
    return status, time.monotonic() - started


async def slow_head(port, hold):
    """Sends a head one byte a second until closed or `hold` seconds pass;
    'closed' when the server closed it, 'open' otherwise."""
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
    except OSError:
        return "refused", 0
    text = b"GET /v1/users/ann HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
    deadline = time.monotonic() + hold
    for byte in text:
        if time.monotonic() > deadline:
            writer.close()
            return "open", 0
        try:
            writer.write(bytes([byte]))
            await writer.drain()
            got = await asyncio.wait_for(reader.read(1024), 1.0)
            if got == b"" or got:
                writer.close()
                return "closed", 0
        except asyncio.TimeoutError:
            continue
        except OSError:
            return "closed", 0
    writer.close()
    return "open", 0


class Normal:
    """Normal traffic: `workers` clients in a loop until stopped."""

    def __init__(self, port, auth, workers=4):
        self.port, self.auth, self.workers = port, auth, workers
        self.samples = []  # (phase, ok, seconds)
        self.phase = "idle"
        self.running = True

    async def run(self):
        async def worker():
            while self.running:
                status, took = await request(
                    self.port, "GET", "/v1/users/ann", {"Authorization": self.auth}, timeout=10)
                self.samples.append((self.phase, status == 200, took))
                await asyncio.sleep(0.02)

        await asyncio.gather(*(worker() for _ in range(self.workers)))

    def summary(self, phase):
        mine = [s for s in self.samples if s[0] == phase]
        if not mine:
            return {"requests": 0}
        times = sorted(s[2] for s in mine)
        ok = sum(1 for s in mine if s[1])
        return {
            "requests": len(mine),
            "success_rate": round(ok / len(mine), 4),
            "p50_ms": round(times[len(times) // 2] * 1000, 1),
            "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))] * 1000, 1),
        }


class Rss:
    """Samples imbridge's VmRSS every 50 ms; VmHWM at the end."""

    def __init__(self, pid):
        self.pid, self.peak_kb, self.running = pid, 0, True

    def read(self, key):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
        return 0

    async def run(self):
        while self.running:
            try:
                self.peak_kb = max(self.peak_kb, self.read("VmRSS:"))
            except OSError:
                return
            await asyncio.sleep(0.05)


async def main():
    port, hang_port, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    app_key, secret = sys.argv[4], sys.argv[5]
    auth = basic(app_key, secret)
    normal, rss = Normal(port, auth), Rss(pid)
    start_rss_kb = rss.read("VmRSS:")
    tasks = [asyncio.ensure_future(normal.run()), asyncio.ensure_future(rss.run())]
    report = {"start_rss_mb": round(start_rss_kb / 1024, 1), "phases": {}}

    async def phase(name, attack):
        normal.phase = name
        started = time.monotonic()
        result = await asyncio.wait_for(attack, 90)
        took = round(time.monotonic() - started, 2)
        normal.phase = name + "/after"
        await asyncio.sleep(1)
        entry = {"seconds": took, "attack": result, "normal": normal.summary(name),
                 "rss_mb_so_far": round(rss.peak_kb / 1024, 1)}
        report["phases"][name] = entry
        print(f"{name}: {json.dumps(entry)}", flush=True)

    normal.phase = "baseline"
    await asyncio.sleep(3)
    report["baseline"] = normal.summary("baseline")
    print(f"baseline: {json.dumps(report['baseline'])}", flush=True)

    def wrong_login(i):
        user = "ann" if i % 2 else f"u{i % 50}"
        body = json.dumps({"username": user, "password": f"wrong{i}"}).encode()
        return request(port, "POST", "/api/auth/token/",
                       {"Content-Type": "application/json"}, body)

    await phase("logins", _counted(bounded(600, 200, wrong_login)))
    await phase("bodies", _counted(bounded(32, 32, lambda i: huge_body(port))))
    await phase("slowhead", _tally(asyncio.gather(*(slow_head(port, 15) for _ in range(500)))))
    await phase("hang", _counted(bounded(200, 50, lambda i: request(
        hang_port, "GET", "/v1/users/ann", {"Authorization": auth}, timeout=60))))

    normal.running = rss.running = False
    await asyncio.gather(*tasks)
    hwm = rss.read("VmHWM:")
    all_normal = [s for s in normal.samples if not s[0].endswith("/after") and s[0] != "idle"]
    times = sorted(s[2] for s in all_normal)
    ok = sum(1 for s in all_normal if s[1])
    report["rss_peak_mb"] = round(max(hwm, rss.peak_kb) / 1024, 1)
    report["normal"] = {
        "requests": len(all_normal),
        "success_rate": round(ok / max(1, len(all_normal)), 4),
        "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))] * 1000, 1) if times else None,
    }
    p99_worst = max((p["normal"].get("p99_ms", 0) for p in report["phases"].values()), default=0)
    report["targets"] = {
        "rss_under_300_mb": report["rss_peak_mb"] < RSS_LIMIT_MB,
        "normal_p99_under_1_s_each_phase": p99_worst < P99_LIMIT_S * 1000,
        "normal_all_succeeded": ok == len(all_normal),
    }
    print(f"RSS peak {report['rss_peak_mb']} MB (start {report['start_rss_mb']} MB); "
          f"normal traffic: {len(all_normal)} requests, success {report['normal']['success_rate']:.2%}, "
          f"p99 {report['normal']['p99_ms']} ms (worst phase p99 {p99_worst} ms)")
    for name, met in report["targets"].items():
        print(f"  {name}: {'met' if met else 'MISSED'}")
    print(json.dumps(report), flush=True)
    return 0 if all(report["targets"].values()) else 1


async def _counted(statuses):
    return counts(await statuses)


async def _tally(results):
    return counts(r[0] for r in await results)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
