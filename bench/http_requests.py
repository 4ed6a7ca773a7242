"""The HTTP requests of the benchmark's scenarios, written once for wrk (as a Lua script) and for raw sockets.

`BROWSER_JSON`: ``GET /json`` with a browser-sized head, 16 header lines
(Host and the fields a browser sends with a same-origin fetch, ~1 KiB).
`POST_64K`: ``POST /upload`` with a 64 KiB body, framed by Content-Length as
a form or file upload is.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BenchRequest:
    method: str
    path: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # besides Host, which wrk adds itself
    body: bytes = b""

    def wire(self, host: str = "127.0.0.1") -> bytes:
        """The request as bytes on the wire (what wrk sends, give or take the order of the fields)."""
        fields = [("Host", host), *self.fields]
        if self.body:
            fields.append(("Content-Length", str(len(self.body))))
        head = f"{self.method} {self.path} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in fields) + "\r\n"
        return head.encode("latin-1") + self.body

    def wrk_script(self) -> str:
        """A wrk Lua script that sends this request."""
        lines = [f'wrk.method = "{self.method}"', f'wrk.path = "{self.path}"']
        lines += [f"wrk.headers[{lua_string(name)}] = {lua_string(value)}" for name, value in self.fields]
        if self.body:
            lines.append(f"wrk.body = {lua_string(self.body.decode('latin-1'))}")
        return "\n".join(lines) + "\n"


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


HELLO = BenchRequest("GET", "/")

BROWSER_JSON = BenchRequest("GET", "/json", [
    ("Connection", "keep-alive"),
    ("sec-ch-ua", '"Chromium";v="131", "Not_A Brand";v="24"'),
    ("sec-ch-ua-mobile", "?0"),
    ("sec-ch-ua-platform", '"Linux"'),
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                   "Chrome/131.0.0.0 Safari/537.36"),
    ("Accept", "application/json, text/plain, */*"),
    ("Sec-Fetch-Site", "same-origin"),
    ("Sec-Fetch-Mode", "cors"),
    ("Sec-Fetch-Dest", "empty"),
    ("Referer", "http://127.0.0.1/dashboard/overview?tab=activity"),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
    ("Accept-Language", "en-GB,en-US;q=0.9,en;q=0.8,fr;q=0.7"),
    ("Cookie", "sessionid=8f14e45fceea167a5a36dedd4bea2543; csrftoken=c9f0f895fb98ab9159f51fd0297e236d; theme=dark"),
    ("Priority", "u=1, i"),
    ("X-Requested-With", "XMLHttpRequest"),
])
assert len(BROWSER_JSON.fields) + 1 == 16

POST_64K = BenchRequest("POST", "/upload", [("Content-Type", "application/octet-stream")],
                        b"0123456789abcdef" * 4096)
