"""Fires N concurrent, correctly signed `/oncall` commands at a server and prints each one's ack latency.

Run by bench/server.py in a process of its own: the scripted model server that keeps the 4 incidents
busy lives in bench/server.py's process, and sharing its interpreter would time that thread's work as
ack latency. Every request is built and signed before the clock starts; each timing covers the TCP
connect, the request and the whole response, as Slack would see it. Raw asyncio streams keep the
client's own CPU per request small: with 100 requests from one Python process, an HTTP library's
per-request overhead (about 0.5 ms for httpx) would be counted as the server's latency.

Usage: python bench/slack_burst.py URL SIGNING_SECRET COUNT TAG   (prints a JSON list of milliseconds)
"""

import asyncio
import json
import sys
import time
from urllib.parse import urlsplit

from demo.fake_slack import signed_headers, slash_command_body

PATH = "/webhook/slack/command"


def signed_request(url: str, body: bytes, secret: str) -> bytes:
    headers = {"Host": urlsplit(url).netloc, "Content-Length": str(len(body))} | signed_headers(secret, body)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"POST {PATH} HTTP/1.1\r\n{head}\r\n".encode() + body


async def ack(host: str, port: int, request: bytes) -> float:
    """Milliseconds from connecting to the last byte of a 200 response."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = head.split(b" ", 2)[1].decode()
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        elapsed = (time.perf_counter() - started) * 1000
    finally:
        writer.close()
    if status != "200":
        raise SystemExit(f"the server answered {status} to a signed /oncall command")
    return elapsed


async def burst(url: str, secret: str, count: int, tag: str) -> list[float]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None, url
    requests = [
        signed_request(
            url, slash_command_body(f"Checkout times out for user {n} ({tag})", user_id=f"U{n:08d}"), secret
        )
        for n in range(count)
    ]
    return list(await asyncio.gather(*(ack(parts.hostname, parts.port, request) for request in requests)))


if __name__ == "__main__":
    url, secret, count, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    print(json.dumps(asyncio.run(burst(url, secret, count, tag))))
