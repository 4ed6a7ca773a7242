"""Throughput of the sans-I/O HTTP/1.1 core: requests parsed per second.

The request is what Chrome sends for ``GET /`` (about 10 header fields,
~500 bytes), fed whole, as it arrives from one ``data_received`` call.
Run: ``python bench/core_http.py [seconds]``.
"""

from __future__ import annotations

import sys
import time

from asgiws.protocol.http11 import NEED_DATA, RequestParser, ResponseWriter

BROWSER_GET = (
    b"GET /index.html?q=1 HTTP/1.1\r\n"
    b"Host: 127.0.0.1:8000\r\n"
    b"Connection: keep-alive\r\n"
    b'sec-ch-ua: "Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"\r\n'
    b"sec-ch-ua-mobile: ?0\r\n"
    b'sec-ch-ua-platform: "Linux"\r\n'
    b"Upgrade-Insecure-Requests: 1\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/124.0.0.0 Safari/537.36\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    b"image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7\r\n"
    b"Sec-Fetch-Site: none\r\n"
    b"Sec-Fetch-Mode: navigate\r\n"
    b"Sec-Fetch-User: ?1\r\n"
    b"Sec-Fetch-Dest: document\r\n"
    b"Accept-Encoding: gzip, deflate, br, zstd\r\n"
    b"Accept-Language: en-US,en;q=0.9\r\n"
    b"\r\n"
)


def bench_http_parse(seconds: float) -> float:
    """Requests per second: feed the browser GET to a reused parser, pull Request and EndOfMessage."""
    parser = RequestParser()
    feed = parser.feed
    next_event = parser.next_event
    data = BROWSER_GET
    count = 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    while True:
        for _ in range(1000):
            feed(data)
            next_event()  # Request
            next_event()  # EndOfMessage
            next_event()  # NEED_DATA
        count += 1000
        now = time.perf_counter()
        if now >= deadline:
            break
    assert next_event() is NEED_DATA
    return count / (now - start)


def bench_http_response(seconds: float) -> float:
    """Responses per second: frame a small 200 with two headers and a body."""
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"13")]
    extra = b"date: Tue, 24 Nov 2026 07:00:00 GMT\r\nserver: asgiws\r\n"
    count = 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    while True:
        for _ in range(1000):
            writer = ResponseWriter(200, headers, extra=extra)
            writer.head + writer.body(b"Hello, world!")
            writer.end()
        count += 1000
        now = time.perf_counter()
        if now >= deadline:
            break
    return count / (now - start)


def bench_httptools_parse(seconds: float) -> float:
    """The same with httptools (C, what uvicorn uses), with uvicorn-like callbacks: the reference."""
    import httptools

    class Callbacks:
        def __init__(self) -> None:
            self.headers: list[tuple[bytes, bytes]] = []
            self.url = b""

        def on_message_begin(self) -> None:
            self.headers = []
            self.url = b""

        def on_url(self, url: bytes) -> None:
            self.url += url

        def on_header(self, name: bytes, value: bytes) -> None:
            self.headers.append((name.lower(), value))

        def on_headers_complete(self) -> None:
            pass

        def on_message_complete(self) -> None:
            pass

    parser = httptools.HttpRequestParser(Callbacks())
    feed = parser.feed_data
    data = BROWSER_GET
    count = 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    while True:
        for _ in range(1000):
            feed(data)
        count += 1000
        now = time.perf_counter()
        if now >= deadline:
            break
    return count / (now - start)


if __name__ == "__main__":
    # Best of three interleaved rounds: the machine is shared, the best round is the least disturbed.
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    try:
        import httptools  # noqa: F401 (only asks whether it is installed)
    except ImportError:
        benches = [("parse browser GET", bench_http_parse), ("frame 200 response", bench_http_response)]
    else:
        benches = [
            ("parse browser GET", bench_http_parse),
            ("frame 200 response", bench_http_response),
            ("reference: httptools + uvicorn-like callbacks, same GET", bench_httptools_parse),
        ]
    best = dict.fromkeys([name for name, _ in benches], 0.0)
    for _ in range(3):
        for name, bench in benches:
            best[name] = max(best[name], bench(seconds / 3))
    for name, rate in best.items():
        print(f"{name}: {rate:,.0f} /s, {1e6 / rate:.2f} µs each")
