"""Sends pre-signed webhooks as fast as the receiver takes them; prints JSON stats.

A separate process with a bare HTTP/1.1 keep-alive client over asyncio streams, so the
sender costs far less CPU than what it measures (an httpx client in the benchmark process
used a whole core at ~200 requests/s and became the bottleneck).

Usage: ``python bench/_webhook_sender.py HOST PORT PATH REQUESTS_FILE CONNECTIONS``
where each line of REQUESTS_FILE is JSON: {"headers": {...}, "body": "..."}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path


async def connection(host: str, port: int, path: str, queue: list[bytes], stats: dict) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    while queue:
        writer.write(queue.pop())
        await writer.drain()
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await reader.readexactly(length)
        code = int(status_line.split()[1])
        stats["ok" if 200 <= code < 300 else "failed"] += 1
    writer.close()


async def main() -> None:
    host, port, path, requests_file, connections = sys.argv[1:6]
    requests = []
    lines = Path(requests_file).read_text(encoding="utf-8").splitlines()  # before timing starts
    for line in lines:
        item = json.loads(line)
        body = item["body"].encode()
        head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in item["headers"].items()]
        requests.append(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    requests.reverse()  # pop() from the end keeps the file's order
    stats = {"ok": 0, "failed": 0}
    started = time.monotonic()
    await asyncio.gather(
        *(connection(host, int(port), path, requests, stats) for _ in range(int(connections)))
    )
    stats["seconds"] = time.monotonic() - started
    print(json.dumps(stats))


if __name__ == "__main__":
    asyncio.run(main())
