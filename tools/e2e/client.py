"""Small HTTP/1.1 clients for the end-to-end tests: over TCP or a Unix socket, keep-alive."""

import http.client
import json
from decimal import Decimal
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=5):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Client:
    """One keep-alive connection per thread to `target` (`unix:/path` or `host:port`)."""

    def __init__(self, target, timeout=5):
        self.target = target
        self.timeout = timeout
        self.local = threading.local()

    def _conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            if self.target.startswith("unix:"):
                c = UnixHTTPConnection(self.target[5:], timeout=self.timeout)
            else:
                host, port = self.target.rsplit(":", 1)
                c = http.client.HTTPConnection(host, int(port), timeout=self.timeout)
            self.local.conn = c
        return c

    def request(self, method, path, body=None, headers=None):
        """-> (status, body text). Status 0 when the connection failed."""
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        for attempt in range(2):
            c = self._conn()
            try:
                c.request(method, path, body=body, headers=hdrs)
                r = c.getresponse()
                data = r.read().decode()
                if r.getheader("Connection", "").lower() == "close":
                    c.close()
                    self.local.conn = None
                return r.status, data
            except (ConnectionError, http.client.HTTPException, socket.timeout, OSError):
                c.close()
                self.local.conn = None
                if attempt == 1:
                    return 0, ""
        return 0, ""

    def get_json(self, path, headers=None):
        status, text = self.request("GET", path, headers=headers)
        assert status == 200, f"GET {path} -> {status} {text}"
        return json.loads(text, parse_float=Decimal, parse_int=int)

    def pay(self, cid=None, amount="19.90"):
        cid = cid or str(uuid.uuid4())
        status, _ = self.request("POST", "/payments", f'{{"correlationId":"{cid}","amount":{amount}}}')
        return cid, status

    def summary(self, query=""):
        return self.get_json("/payments-summary" + (("?" + query) if query else ""))


def burst(client, n, amount="19.90", threads=16, retry_until_2xx=False, deadline_s=60, during=None):
    """Sends n payments concurrently. -> (ids answered 2xx, status counts).
    retry_until_2xx: like a real client, send a payment again (same id) until it gets a 2xx."""
    import time
    ids = [str(uuid.uuid4()) for _ in range(n)]
    acked, counts, lock = [], {}, threading.Lock()

    def one(cid):
        end = time.time() + deadline_s
        while True:
            _, status = client.pay(cid, amount)
            with lock:
                counts[status] = counts.get(status, 0) + 1
            if 200 <= status < 300:
                with lock:
                    acked.append(cid)
                return
            if not retry_until_2xx or time.time() > end:
                return
            time.sleep(0.05)

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(one, cid) for cid in ids]
        if during:
            during()
        for f in futures:
            f.result()
    return acked, counts
