"""The demo's order webhook flow: signed HTTP requests to order-webhook as `cargo lambda watch` serves it over HTTP
(what API Gateway's HTTP API does in AWS), each accepted delivery's execution of the orders state machine run by the
local runner, and what landed: the answers, the executions' paths, the orders table, the notifications."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request


# The signing secret the demo puts into the secret Terraform created (Standard Webhooks form: whsec_ + base64).
SECRET = "whsec_" + base64.b64encode(b"tributary-demo-signing-secret").decode()


def sign(secret: str, delivery_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature` as a sender computes it: v1,base64(HMAC-SHA256(key, id.timestamp.body))."""
    key = base64.b64decode(secret.removeprefix("whsec_")) if secret.startswith("whsec_") else secret.encode()
    mac = hmac.new(key, f"{delivery_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def post(url: str, body: bytes, headers: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"content-type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text or b"{}")
        except ValueError:
            return e.code, {"body": text.decode(errors="replace")[:300]}


def webhook_flow(demo) -> None:
    stack = demo.stack
    sfn, secrets = demo.client("stepfunctions"), demo.client("secretsmanager")
    secrets.put_secret_value(SecretId=stack.tf["webhook_secret_arn"], SecretString=SECRET)
    machine_arn = stack.tf["orders_state_machine_arn"]
    definition = sfn.describe_state_machine(stateMachineArn=machine_arn)["definition"]
    url = f"{stack.lambda_endpoint}/lambda-url/order-webhook/orders"
    flow: dict = {"url": url, "deliveries": [], "executions": []}
    demo.report["flows"]["webhook"] = flow

    order = {"order_id": "PO-3001", "vendor": "Globex GmbH", "customer_id": 77, "currency": "EUR",
             "created_at": "2026-11-30T09:30:00Z",
             "line_items": [{"product_id": "SKU-30001", "quantity": 4, "unit_price": "12.50"}], "total": "50.00"}
    invalid = {"order_id": "PO-3002", "vendor": "Globex GmbH", "customer_id": 77, "currency": "EUR",
               "created_at": "2026-11-30T09:31:00Z",
               "line_items": [{"product_id": "SKU-30002", "quantity": 1, "unit_price": "10.00"}], "total": "99.00"}
    now = int(time.time())
    cases = [  # (what, delivery id, order, timestamp, secret, expected status, expected answer field)
        ("a signed order", "msg_demo_3001", order, now, SECRET, 202, "accepted"),
        ("the sender's retry of it", "msg_demo_3001", order, now + 1, SECRET, 202, None),
        ("signed with the wrong secret", "msg_demo_3003", order, now, "whsec_d3Jvbmc=", 401, "unauthorized"),
        ("a timestamp ten minutes old", "msg_demo_3004", order, now - 600, SECRET, 401, "unauthorized"),
        ("an order that does not add up", "msg_demo_3002", invalid, now, SECRET, 202, "accepted"),
    ]
    accepted: dict[str, str] = {}
    for what, delivery_id, body_doc, timestamp, secret, expected, field in cases:
        body = json.dumps(body_doc).encode()
        status, answer = post(url, body, {
            "webhook-id": delivery_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, delivery_id, timestamp, body)})
        flow["deliveries"].append({"what": what, "delivery_id": delivery_id, "status": status, "answer": answer})
        shown = answer.get("status") or answer.get("error")
        demo.expect("webhook", f"{what}: HTTP {expected}", status == expected and (field is None or shown == field),
                    f"got {status} {json.dumps(answer)[:200]}")
        if status == 202:
            execution = answer.get("execution_arn", "")
            if delivery_id in accepted:
                demo.expect("webhook", f"{what}: the same execution, not a second one",
                            accepted[delivery_id] == execution, execution)
            accepted.setdefault(delivery_id, execution)

    started = sfn.list_executions(stateMachineArn=machine_arn)["executions"]
    demo.expect("webhook", "one execution per delivery, none for a refused request",
                sorted(e["executionArn"] for e in started) == sorted(accepted.values()),
                f"{len(started)} executions")
    for delivery_id, execution_arn in accepted.items():
        execution_input = json.loads(sfn.describe_execution(executionArn=execution_arn)["input"])
        with demo.timed(f"orders state machine: {delivery_id}"):
            run = demo.run_state_machine(definition, machine_arn, execution_input, execution_arn=execution_arn)
        result = ((run.get("output") or {}).get("validation") or {}).get("result") or {}
        run.update(delivery_id=delivery_id, order_status=result.get("status"),
                   errors=[e.get("message") for e in result.get("errors") or []])
        flow["executions"].append(run)
    paths = {r["delivery_id"]: r["path"] for r in flow["executions"]}
    demo.expect("webhook", "PO-3001: validated and stored", paths.get("msg_demo_3001") == ["Validate", "Decide", "Accepted"],
                json.dumps(paths.get("msg_demo_3001")))
    demo.expect("webhook", "PO-3002: rejected with every reason and notified",
                paths.get("msg_demo_3002") == ["Validate", "Decide", "Notify rejection", "Rejected"],
                json.dumps(paths.get("msg_demo_3002")))
    item = demo.client("dynamodb").get_item(TableName=stack.tf["orders_table_name"],
                                            Key={"order_id": {"S": "PO-3001"}}).get("Item") or {}
    flow["stored"] = {k: list(v.values())[0] for k, v in item.items() if k in ("order_id", "total", "currency", "source")}
    demo.expect("webhook", "PO-3001 is in the orders table once, with its exact total",
                flow["stored"].get("total") == "50.00", json.dumps(flow["stored"]))


def print_webhook(flow: dict, p) -> None:
    p("\nPurchase orders by webhook (HTTP -> order-webhook -> orders state machine -> order-validator)")
    p(f"  url  POST {flow['url']} (API Gateway's POST /orders in AWS)")
    for d in flow["deliveries"]:
        answer = d["answer"]
        detail = answer.get("status") or f"{answer.get('error')}: {answer.get('reason', '')}"
        p(f"  in   {d['what']} ({d['delivery_id']}): HTTP {d['status']} {detail}")
    for e in flow["executions"]:
        errors = f": {'; '.join(e['errors'][:2])}" if e.get("errors") else ""
        p(f"  run  {e['delivery_id']}: {e['status']} in {e['ms'] / 1000:.1f} s: {' -> '.join(e['path'])}"
          f" (order {e.get('order_status')}{errors})")
    if flow.get("stored"):
        p(f"  out  orders table: {json.dumps(flow['stored'])}")
