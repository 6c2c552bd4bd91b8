"""A small keep-alive HTTP/1.1 load generator on asyncio streams (no third-party client): it
keeps ``concurrency`` connections busy with the given paths, each path requested once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Result:
    latencies_s: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    cache: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies_s) / self.elapsed_s if self.elapsed_s else 0.0

    def percentile(self, p: float) -> float:
        data = sorted(self.latencies_s)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, round(p / 100 * (len(data) - 1)))]


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int, str]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    cache = headers.get("x-tile-cache", "")
    if "content-length" in headers:
        n = int(headers["content-length"])
        if n:
            await reader.readexactly(n)
        return status, n, cache
    if headers.get("transfer-encoding") == "chunked":
        total = 0
        while True:
            size = int((await reader.readline()).strip(), 16)
            if size == 0:
                await reader.readline()
                return status, total, cache
            await reader.readexactly(size + 2)
            total += size
    return status, 0, cache


async def _worker(
    host: str, port: int, queue: asyncio.Queue[str], result: Result, gzip: bool, headers: dict[str, str]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    extra = "Accept-Encoding: gzip\r\n" if gzip else ""
    extra += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    try:
        while True:
            try:
                path = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            start = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n".encode())
            status, size, cache = await _read_response(reader)
            result.latencies_s.append(time.perf_counter() - start)
            result.sizes.append(size)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if cache:
                result.cache[cache] = result.cache.get(cache, 0) + 1
    finally:
        writer.close()


async def _run(
    host: str, port: int, paths: Sequence[str], concurrency: int, gzip: bool, headers: dict[str, str]
) -> Result:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for p in paths:
        queue.put_nowait(p)
    result = Result()
    start = time.perf_counter()
    await asyncio.gather(*(_worker(host, port, queue, result, gzip, headers) for _ in range(concurrency)))
    result.elapsed_s = time.perf_counter() - start
    return result


#: Headers sent with every request (the tile benchmark puts its API token here).
HEADERS: dict[str, str] = {}


def run(host: str, port: int, paths: Sequence[str], *, concurrency: int = 8, gzip: bool = False) -> Result:
    """Request every path once over ``concurrency`` keep-alive connections, with ``HEADERS``."""
    return asyncio.run(_run(host, port, paths, concurrency, gzip, dict(HEADERS)))
