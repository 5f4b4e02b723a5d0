"""A fault-injecting HTTP proxy between the real binaries and the emulator, for the tests of what survives faults.

Usage: fault_proxy.py --port PORT --upstream http://127.0.0.1:MOTO_PORT

Every request is forwarded to the upstream as it came (the SDK's signature covers the Host header, which is kept
as the client sent it) unless a rule matches it first. Rules are set over HTTP on the proxy itself, which no AWS
request can reach (`__fault` is not a valid bucket name):

  PUT    /__fault/rules   a JSON list of rules, replacing any set before
  DELETE /__fault/rules   no rules
  GET    /__fault/hits    how often each rule fired, in rule order

A rule matches on any of: "method"; "path" (a regular expression searched in the path with its query string);
"target" (a substring of the X-Amz-Target header, e.g. "PutItem"); "body_contains" (a substring of the request
body).
"skip" lets that many matching requests through first; "times" limits how often it fires (default: always).
What it does when it fires:

  {"status": 503, "body": "...", "headers": {...}}  answer this instead of forwarding (an S3 SlowDown, a
                                                     DynamoDB throttle, a 500)
  {"cut_after": N}        forward, then send only the first N bytes of the response body (the headers keep the
                          full Content-Length) and close the connection: a body cut mid-stream
  {"delay": S}            wait S seconds before forwarding (past an SDK's timeout)
  {"bandwidth": B}        forward, sending the response body at B bytes per second
  {"drop": true}          close the connection without answering
"""

import argparse
import http.client
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

LOCK = threading.Lock()
RULES: list[dict] = []
HITS: list[int] = []
SEEN: list[int] = []


def matches(rule: dict, method: str, path: str, headers, body: bytes) -> bool:
    if "method" in rule and rule["method"] != method:
        return False
    if "path" in rule and not re.search(rule["path"], path):
        return False
    if "target" in rule and rule["target"] not in (headers.get("X-Amz-Target") or ""):
        return False
    if "body_contains" in rule and rule["body_contains"].encode() not in body:
        return False
    return True


def pick(method: str, path: str, headers, body: bytes):
    """The first rule that matches and is due to fire, counted."""
    with LOCK:
        for i, rule in enumerate(RULES):
            if not matches(rule, method, path, headers, body):
                continue
            SEEN[i] += 1
            if SEEN[i] <= rule.get("skip", 0):
                return None
            if "times" in rule and HITS[i] >= rule["times"]:
                continue
            HITS[i] += 1
            return rule
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = ("127.0.0.1", 0)

    def log_message(self, *args):  # quiet: the tests read outcomes, not access logs
        pass

    def _control(self, body: bytes) -> None:
        global RULES, HITS, SEEN
        if self.command == "PUT" and self.path == "/__fault/rules":
            rules = json.loads(body or b"[]")
            with LOCK:
                RULES, HITS, SEEN = rules, [0] * len(rules), [0] * len(rules)
            self._reply(200, b"{}")
        elif self.command == "DELETE" and self.path == "/__fault/rules":
            with LOCK:
                RULES, HITS, SEEN = [], [], []
            self._reply(200, b"{}")
        elif self.command == "GET" and self.path == "/__fault/hits":
            with LOCK:
                self._reply(200, json.dumps(HITS).encode())
        else:
            self._reply(404, b"{}")

    def _reply(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {"Content-Type": "application/json"}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/__fault/"):
            return self._control(body)
        rule = pick(self.command, self.path, self.headers, body)
        if rule and rule.get("drop"):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if rule and "status" in rule:
            return self._reply(rule["status"], rule.get("body", "").encode(), rule.get("headers") or {"Content-Type": "application/xml"})
        if rule and "delay" in rule:
            time.sleep(rule["delay"])
        conn = http.client.HTTPConnection(*self.upstream, timeout=300)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "transfer-encoding")}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                self.send_header(k, v)
        # A HEAD answer has no body but tells the object's length.
        self.send_header("Content-Length", resp.getheader("Content-Length", "0") if self.command == "HEAD" else str(len(data)))
        if rule and "cut_after" in rule:
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data[: rule["cut_after"]])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.end_headers()
        if rule and "bandwidth" in rule:
            step = max(1, int(rule["bandwidth"]) // 20)
            for i in range(0, len(data), step):
                self.wfile.write(data[i : i + step])
                self.wfile.flush()
                time.sleep(step / rule["bandwidth"])
        else:
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _handle


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True)
    args = p.parse_args()
    up = urlsplit(args.upstream)
    Handler.upstream = (up.hostname, up.port)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
