//! Integration tests: the real `order-webhook` binary through the Lambda Runtime API emulator, with API Gateway's
//! HTTP API events (the sample in events/), against Secrets Manager and Step Functions in moto_server; then the
//! orders state machine, executed by the local runner (infra/run-state-machine.mjs), with the real
//! `order-validator` binary for its task, DynamoDB and S3 in moto, and SNS notifications read from a queue.

use order_webhook::signature::sign;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};
use tributary_testkit::{
    InvokeApi, Moto, Stack, World, fixture, run_state_machine, sdk_config, sibling_binary,
    unique_bucket, workspace_root,
};

const SECRET: &str = "whsec_dGVzdC1zaWduaW5nLXNlY3JldA==";
const VALIDATOR_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:order-validator";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The orders definition as Terraform renders it.
fn definition(topic_arn: &str) -> Value {
    let template = std::fs::read_to_string(
        workspace_root().join("infra/terraform/statemachine/orders.asl.json"),
    )
    .expect("orders.asl.json");
    serde_json::from_str(
        &template
            .replace("${order_validator_arn}", VALIDATOR_ARN)
            .replace("${topic_arn}", topic_arn),
    )
    .expect("definition")
}

/// What order-webhook needs in the emulator: its secret, a topic (with a queue that receives what it
/// publishes), and the orders state machine.
struct Setup {
    sfn: aws_sdk_sfn::Client,
    secret_arn: String,
    machine_arn: String,
    topic_arn: String,
    queue: String,
}

/// Runs `script` with boto3 (SNS and SQS, which only this test's setup uses) against the emulator.
fn boto(script: &str, args: &[&str]) -> String {
    tributary_testkit::boto3(
        &format!("import boto3, json, sys\nsns = boto3.client('sns')\nsqs = boto3.client('sqs')\n{script}"),
        args,
    )
    .trim()
    .to_owned()
}

async fn setup() -> Setup {
    let config = sdk_config().await;
    let name = unique_bucket("webhook");
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let secret_arn = secrets
        .create_secret()
        .name(format!("{name}/signing-secret"))
        .secret_string(SECRET)
        .send()
        .await
        .expect("secret")
        .arn()
        .expect("arn")
        .to_owned();
    // A topic, and a queue subscribed to it with raw delivery: each message is a notification's JSON.
    let topic_arn = boto(
        "topic = sns.create_topic(Name=sys.argv[1])['TopicArn']\n\
         url = sqs.create_queue(QueueName=sys.argv[1])['QueueUrl']\n\
         arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['QueueArn'])['Attributes']['QueueArn']\n\
         sns.subscribe(TopicArn=topic, Protocol='sqs', Endpoint=arn, Attributes={'RawMessageDelivery': 'true'})\n\
         print(topic)",
        &[&name],
    );
    let sfn = aws_sdk_sfn::Client::new(&config);
    let machine_arn = sfn
        .create_state_machine()
        .name(&name)
        .definition(definition(&topic_arn).to_string())
        .role_arn("arn:aws:iam::123456789012:role/orders")
        .send()
        .await
        .expect("state machine")
        .state_machine_arn()
        .to_owned();
    Setup {
        sfn,
        secret_arn,
        machine_arn,
        topic_arn,
        queue: name,
    }
}

async fn webhook(s: &Setup, extra: &[(&str, &str)]) -> World {
    let mut env = vec![
        ("WEBHOOK_SECRET_ARN", s.secret_arn.as_str()),
        ("ORDERS_STATE_MACHINE_ARN", s.machine_arn.as_str()),
    ];
    env.extend_from_slice(extra);
    World::start(
        Stack::bucket("webhook").await,
        Path::new(env!("CARGO_BIN_EXE_order-webhook")),
        &Moto::shared().endpoint(),
        &env,
    )
}

/// The sample API Gateway event with `body`, signed for `id` at `timestamp` with `secret`.
fn request(id: &str, body: &str, timestamp: i64, secret: &str) -> Value {
    let key = order_webhook::signature::key(secret).expect("a usable secret");
    let ts = timestamp.to_string();
    let mut event = fixture("apigw-order-webhook.json");
    event["body"] = json!(body);
    event["headers"]["webhook-id"] = json!(id);
    event["headers"]["webhook-timestamp"] = json!(ts);
    event["headers"]["webhook-signature"] = json!(sign(&key, id, &ts, body.as_bytes()));
    event["headers"]["content-length"] = json!(body.len().to_string());
    event
}

fn signed(id: &str, body: &str) -> Value {
    request(id, body, now(), SECRET)
}

/// The answer's status and JSON body.
fn answer(out: &Value) -> (i64, Value) {
    let body = serde_json::from_str(out["body"].as_str().unwrap_or("null")).expect("JSON body");
    (out["statusCode"].as_i64().expect("statusCode"), body)
}

fn order(id: &str) -> String {
    let mut order = fixture("sfn-validate-order.json");
    order["order_id"] = json!(id);
    order.to_string()
}

async fn executions(s: &Setup) -> Vec<String> {
    s.sfn
        .list_executions()
        .state_machine_arn(&s.machine_arn)
        .send()
        .await
        .expect("list executions")
        .executions()
        .iter()
        .map(|e| e.execution_arn().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_order_starts_one_execution_and_a_senders_retries_are_that_same_delivery() {
    let s = setup().await;
    let mut w = webhook(&s, &[]).await;
    let body = order("PO-7001");
    let (status, first) = answer(&w.invoke(&signed("msg_7001", &body)).expect("answered"));
    assert_eq!(
        (status, &first["status"]),
        (202, &json!("accepted")),
        "{first}"
    );
    let execution = first["execution_arn"]
        .as_str()
        .expect("execution arn")
        .to_owned();
    assert!(execution.ends_with(":msg_7001"), "{execution}");
    // The execution's input is the order exactly as sent, with the delivery id.
    let described = s
        .sfn
        .describe_execution()
        .execution_arn(&execution)
        .send()
        .await
        .expect("execution");
    assert_eq!(
        described.input(),
        Some(format!(r#"{{"delivery_id":"msg_7001","order":{body}}}"#).as_str())
    );

    // The sender retries (a new timestamp, so a new signature) while the execution runs: the same execution.
    let (status, again) = answer(&w.invoke(&signed("msg_7001", &body)).expect("answered"));
    assert_eq!((status, &again["execution_arn"]), (202, &json!(execution)));
    // ... and after it ended: a duplicate delivery, still the same execution.
    s.sfn
        .stop_execution()
        .execution_arn(&execution)
        .send()
        .await
        .expect("stop");
    let (status, late) = answer(&w.invoke(&signed("msg_7001", &body)).expect("answered"));
    assert_eq!(
        (status, &late["status"], &late["execution_arn"]),
        (202, &json!("duplicate_delivery"), &json!(execution))
    );
    // Another body under the same delivery id is a conflict, and starts nothing.
    let (status, conflict) = answer(
        &w.invoke(&signed("msg_7001", &order("PO-7002")))
            .expect("answered"),
    );
    assert_eq!((status, &conflict["error"]), (409, &json!("conflict")));
    assert_eq!(executions(&s).await, [execution]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_answer_401_413_or_400_and_start_nothing() {
    let s = setup().await;
    let mut w = webhook(&s, &[("MAX_BODY_BYTES", "2048")]).await;
    let body = order("PO-7101");
    let mut cases = vec![
        (
            "signed with another secret",
            request("msg_a", &body, now(), "whsec_b3RoZXI="),
            401,
            "no v1 signature",
        ),
        (
            "ten minutes old",
            request("msg_b", &body, now() - 600, SECRET),
            401,
            "outside the 300 s tolerance",
        ),
        (
            "over the size limit",
            signed("msg_c", &format!(r#"{{"pad": "{}"}}"#, "x".repeat(4096))),
            413,
            "over the 2048 byte limit",
        ),
        (
            "not JSON",
            signed("msg_d", "order_id=PO-1"),
            400,
            "not JSON",
        ),
        (
            "a JSON list",
            signed("msg_e", "[1, 2]"),
            400,
            "not an object",
        ),
    ];
    let mut unsigned = signed("msg_f", &body);
    unsigned["headers"]
        .as_object_mut()
        .expect("headers")
        .remove("webhook-signature");
    cases.push((
        "unsigned",
        unsigned,
        401,
        "webhook-signature header is missing",
    ));
    // The body changed after signing.
    let mut tampered = signed("msg_g", &body);
    tampered["body"] = json!(body.replace("PO-7101", "PO-7102"));
    cases.push(("tampered", tampered, 401, "no v1 signature"));
    for (case, event, want, reason) in cases {
        let (status, answer) = answer(&w.invoke(&event).expect("answered"));
        assert_eq!(status, want, "{case}: {answer}");
        assert!(
            answer["reason"]
                .as_str()
                .is_some_and(|r| r.contains(reason)),
            "{case}: {answer}"
        );
    }
    assert!(executions(&s).await.is_empty());
    // One Deliveries record per answer, by outcome.
    let outcomes: Vec<String> = w
        .emf()
        .iter()
        .filter(|m| m["Deliveries"] == 1.0)
        .map(|m| m["Outcome"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        outcomes,
        [
            "unauthorized",
            "unauthorized",
            "too_large",
            "bad_request",
            "bad_request",
            "unauthorized",
            "unauthorized"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_secret_is_a_function_error_not_an_answer() {
    let s = setup().await;
    let missing = s.secret_arn.replace("signing-secret", "no-such-secret");
    let mut w = webhook(&s, &[("WEBHOOK_SECRET_ARN", &missing)]).await;
    let err = w
        .invoke(&signed("msg_x", &order("PO-7201")))
        .expect_err("API Gateway answers 500, and the function's error alarm fires");
    assert_eq!(err.error_type, "NotFound", "{}", err.error_message);
    assert!(executions(&s).await.is_empty());
}

/// Messages published to the topic so far (raw delivery: each is the notification's JSON).
fn notifications(s: &Setup) -> Vec<Value> {
    let lines = boto(
        "url = sqs.get_queue_url(QueueName=sys.argv[1])['QueueUrl']\n\
         while True:\n    \
             got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get('Messages', [])\n    \
             if not got: break\n    \
             for m in got: print(json.dumps(json.loads(m['Body'])))",
        &[&s.queue],
    );
    lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("a notification's JSON"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_delivery_runs_the_orders_state_machine_to_its_outcome() {
    let s = setup().await;
    let mut hook = webhook(&s, &[]).await;
    let validator = {
        let stack = Stack::new("orders", "order_id").await;
        let (table, bucket) = (stack.table.clone(), stack.bucket.clone());
        World::start(
            stack,
            &sibling_binary("order-validator"),
            &Moto::shared().endpoint(),
            &[
                ("ORDERS_TABLE", table.as_str()),
                ("ORDERS_BUCKET", bucket.as_str()),
            ],
        )
    };
    let table = validator.stack.table.clone();
    let ddb = validator.stack.ddb.clone();
    let lambda = InvokeApi::serve(vec![("order-validator", validator.function)]);
    let machine = definition(&s.topic_arn);
    let mut deliver = async |id: &str, body: &str| -> Value {
        let (status, accepted) = answer(&hook.invoke(&signed(id, body)).expect("answered"));
        assert_eq!(status, 202, "{accepted}");
        let execution = accepted["execution_arn"].as_str().expect("arn").to_owned();
        let input = s
            .sfn
            .describe_execution()
            .execution_arn(&execution)
            .send()
            .await
            .expect("execution")
            .input()
            .map(str::to_owned)
            .expect("input");
        let input: Value = serde_json::from_str(&input).expect("input JSON");
        run_state_machine(
            &machine,
            &input,
            &execution,
            &[(VALIDATOR_ARN, "order-validator")],
            &lambda,
        )
    };

    // A valid order: validated and stored.
    let valid = deliver("msg_8001", &order("PO-8001")).await;
    assert_eq!(valid["status"], "SUCCEEDED", "{valid}");
    assert_eq!(valid["path"], json!(["Validate", "Decide", "Accepted"]));
    let item = ddb
        .get_item()
        .table_name(&table)
        .key(
            "order_id",
            aws_sdk_dynamodb::types::AttributeValue::S("PO-8001".into()),
        )
        .send()
        .await
        .expect("get item");
    assert_eq!(
        item.item()
            .and_then(|i| i.get("total"))
            .and_then(|v| v.as_s().ok())
            .map(String::as_str),
        Some("60.97")
    );
    // The same order in another delivery: a duplicate, accepted.
    let duplicate = deliver("msg_8002", &order("PO-8001")).await;
    assert_eq!(
        duplicate["output"]["validation"]["result"]["status"],
        "duplicate"
    );
    assert_eq!(duplicate["path"], json!(["Validate", "Decide", "Accepted"]));
    // An invalid order: notified with every reason, and handled.
    let mut bad: Value = serde_json::from_str(&order("PO-8003")).expect("order");
    bad["total"] = json!("1.00");
    bad["vendor"] = json!("");
    let invalid = deliver("msg_8003", &bad.to_string()).await;
    assert_eq!(invalid["status"], "SUCCEEDED", "{invalid}");
    assert_eq!(
        invalid["path"],
        json!(["Validate", "Decide", "Notify rejection", "Rejected"])
    );
    let sent = notifications(&s);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (
            &sent[0]["outcome"],
            &sent[0]["order_id"],
            &sent[0]["delivery_id"]
        ),
        (&json!("invalid"), &json!("PO-8003"), &json!("msg_8003"))
    );
    assert!(
        sent[0]["errors"].as_array().is_some_and(|e| e.len() >= 2),
        "every reason: {}",
        sent[0]
    );
}
