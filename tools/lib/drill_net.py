"""The drill's wire clients, on asyncio so that one thread drives the load, the checker and the faults
at once: a keep-alive HTTP/1.1 pool over TCP and a pipelining RESP client over Valkey's Unix socket.
Only what the drill needs: Content-Length and chunked bodies (the processors answer chunked, as Kestrel does), no TLS."""

import asyncio
import json
from decimal import Decimal


class HTTPError(Exception):
    """No whole answer: refused, reset, closed or timed out. `reused`: on a kept-alive connection."""

    reused = False


class HTTPConnection:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def open(self, timeout):
        self.reader, self.writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), timeout)

    def close(self):
        if self.writer:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method, path, body=b"", headers=None, timeout=5.0):
        """-> (status, body bytes). Raises HTTPError and closes itself when the answer is not whole."""
        try:
            return await asyncio.wait_for(self._exchange(method, path, body, headers or {}), timeout)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError, HTTPError) as e:
            self.close()
            raise HTTPError(str(e) if isinstance(e, HTTPError) else type(e).__name__) from e

    async def _exchange(self, method, path, body, headers):
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if body:
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + (body or b""))
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise HTTPError("closed")
        status = int(status_line.split(b" ", 2)[1])
        length, close, chunked = 0, False, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise HTTPError("closed in headers")
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "transfer-encoding" and value.strip().lower() == "chunked":
                chunked = True  # the processors answer as Kestrel does
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        if chunked:
            data = b""
            while True:
                size = int((await self.reader.readline()).split(b";")[0].strip(), 16)
                if size == 0:
                    while (await self.reader.readline()) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                data += await self.reader.readexactly(size)
                await self.reader.readexactly(2)
        else:
            data = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, data


class HTTPPool:
    """Up to `size` keep-alive connections to host:port; a caller waits for a free one."""

    def __init__(self, host, port, size, connect_timeout=1.0):
        self.host, self.port = host, port
        self.connect_timeout = connect_timeout
        self.idle = []
        self.slots = asyncio.Semaphore(size)

    async def request(self, method, path, body=b"", headers=None, timeout=5.0, on_sent=None):
        """-> (status, body bytes); HTTPError when no whole answer came. `on_sent(port)` runs once a
        connection is held (the request is about to leave), with that connection's local port: the
        caller's count of requests out, and where they are."""
        async with self.slots:
            conn = self.idle.pop() if self.idle else None
            reused = conn is not None and conn.writer is not None
            if not reused:
                conn = HTTPConnection(self.host, self.port)
                try:
                    await conn.open(self.connect_timeout)
                except (OSError, asyncio.TimeoutError) as e:
                    raise HTTPError(f"connect: {type(e).__name__}") from e
            if on_sent:
                on_sent(conn.writer.get_extra_info("sockname")[1])
            try:
                status, data = await conn.request(method, path, body, headers, timeout)
            except HTTPError as e:
                e.reused = reused
                raise
            if conn.writer is not None:
                self.idle.append(conn)
            return status, data

    async def get_json(self, path, headers=None, timeout=1.5):
        """-> parsed JSON (decimals exact) on 200, else None. Like Go's client (k6, the official
        checker), a GET that fails on a kept-alive connection the server has closed goes again once
        on a new one, within the same timeout."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        try:
            status, data = await self.request("GET", path, b"", headers, timeout)
        except HTTPError as e:
            if not e.reused or end - loop.time() <= 0.05:
                return None
            try:
                status, data = await self.request("GET", path, b"", headers, end - loop.time())
            except HTTPError:
                return None
        if status != 200:
            return None
        try:
            return json.loads(data, parse_float=Decimal)
        except ValueError:
            return None

    def close(self):
        for c in self.idle:
            c.close()
        self.idle = []


class RESPError(Exception):
    pass


class RESP:
    """One connection to Valkey over its Unix socket; commands pipelined in one write. Reconnects
    on the next call after a failure (Valkey killed and started again)."""

    def __init__(self, path):
        self.path = path
        self.reader = self.writer = None
        self.lock = None  # one pipeline at a time: replies come back in order on one stream


    async def _connect(self, timeout):
        self.reader, self.writer = await asyncio.wait_for(asyncio.open_unix_connection(self.path), timeout)

    def close(self):
        if self.writer:
            self.writer.close()
        self.reader = self.writer = None

    async def pipeline(self, commands, timeout=0.5):
        """-> list of replies (an error reply is a RESPError instance); raises RESPError when
        Valkey does not answer within `timeout`."""
        if self.lock is None:
            self.lock = asyncio.Lock()
        try:
            async with self.lock:
                return await asyncio.wait_for(self._pipeline(commands, timeout), timeout)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as e:
            self.close()
            raise RESPError(type(e).__name__) from e

    async def call(self, *args, timeout=0.5):
        reply = (await self.pipeline([args], timeout))[0]
        if isinstance(reply, RESPError):
            raise reply
        return reply

    async def _pipeline(self, commands, timeout):
        if self.writer is None:
            await self._connect(timeout)
        out = bytearray()
        for cmd in commands:
            out += b"*%d\r\n" % len(cmd)
            for a in cmd:
                a = a if isinstance(a, bytes) else str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.writer.write(bytes(out))
        await self.writer.drain()
        return [await self._reply() for _ in commands]

    async def _reply(self):
        line = await self.reader.readline()
        if not line:
            raise asyncio.IncompleteReadError(b"", None)
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RESPError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = await self.reader.readexactly(n + 2)
            return data[:-2].decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [await self._reply() for _ in range(n)]
        raise ValueError(f"unexpected RESP reply {line!r}")
