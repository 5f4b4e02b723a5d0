"""The Lambda Invoke API, as the demo calls the functions `cargo lambda watch` serves."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from .supervisor import DemoError


class FunctionError(Exception):
    def __init__(self, error_type: str, body: str):
        super().__init__(f"{error_type}: {body}")
        self.error_type = error_type


def invoke(endpoint: str, function: str, event: dict) -> dict:
    """POST /2015-03-31/functions/<name>/invocations. A function error is HTTP 200 + X-Amz-Function-Error from
    Lambda and HTTP 500 with the error document from `cargo lambda watch`; both raise FunctionError."""
    request = urllib.request.Request(
        f"{endpoint}/2015-03-31/functions/{function}/invocations", data=json.dumps(event).encode(), method="POST",
        headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            body = response.read().decode()
            if response.headers.get("x-amz-function-error"):
                raise FunctionError(json.loads(body).get("errorType", "Unhandled"), body)
            return json.loads(body) if body else {}
    except urllib.error.HTTPError as e:
        body = e.read().decode(errors="replace")
        try:
            error_type = json.loads(body)["errorType"]
        except (ValueError, KeyError, TypeError):
            raise DemoError(f"invoking {function}: HTTP {e.code}: {body[:500]}") from None
        raise FunctionError(error_type, body) from None
