//! `infra/terraform` proven without an AWS account: `terraform apply` against moto_server, then what it created
//! (the bucket's notification filters, the Kinesis event source mapping, the state machine definition, every role's
//! IAM actions, the tables), a second plan with nothing to change, the no-warehouse switch as a plan, and
//! `terraform destroy`. Without Terraform: the state machine retries exactly the retryable error types of `shared`.
//!
//! Needs `terraform` (>= 1.9; `$TERRAFORM`, else on `PATH`) and the AWS provider 5.100.0 in a local mirror
//! (`$TF_PLUGIN_DIR`, default `/opt/tf-plugins`). When either is missing the test fails and says which: CI has both.

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;
use tributary_shared::ErrorKind;
use tributary_testkit::{Moto, dynamodb_client, python, s3_client, workspace_root};

const FUNCTIONS: [&str; 5] = [
    "csv-to-parquet",
    "kinesis-normalizer",
    "order-validator",
    "redshift-loader",
    "order-webhook",
];

/// Errors Lambda itself raises for an invocation that may succeed when repeated (AWS's documented retry set for
/// Step Functions Lambda tasks).
const LAMBDA_TRANSIENT: [&str; 4] = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
];

fn module_dir() -> PathBuf {
    workspace_root().join("infra/terraform")
}

fn asl(file: &str) -> Value {
    let path = module_dir().join("statemachine").join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().expect("a string").to_owned())
            .collect(),
        other => panic!("expected a string or a list of strings, got {other}"),
    }
}

/// Every Lambda task of `definition` retries exactly the retryable error types, outlasts Lambda's timeout and
/// catches the rest into "Notify failure", which ends in a Fail state.
/// The Lambda tasks of `states`, by name.
fn lambda_tasks(states: &Value) -> Vec<(&String, &Value)> {
    states
        .as_object()
        .expect("States")
        .iter()
        .filter(|(_, s)| s["Resource"] == "arn:aws:states:::lambda:invoke")
        .collect()
}

/// A Lambda task retries exactly the retryable error kinds of shared/src/error.rs plus Lambda's transient errors,
/// backing off, and outlasts Lambda's longest run.
fn check_retries(name: &str, state: &Value) {
    let expected: BTreeSet<String> = ErrorKind::ALL
        .iter()
        .filter(|k| k.retryable())
        .map(|k| k.as_str().to_owned())
        .chain(LAMBDA_TRANSIENT.iter().map(|s| (*s).to_owned()))
        .collect();
    let retriers = state["Retry"].as_array().expect("Retry");
    let mut retried = BTreeSet::new();
    for retrier in retriers {
        for error in strings(&retrier["ErrorEquals"]) {
            assert!(
                retried.insert(error.clone()),
                "{name}: {error} is in two retriers"
            );
        }
        assert!(
            retrier["BackoffRate"].as_f64().expect("BackoffRate") > 1.0,
            "{name}: retries back off"
        );
    }
    assert_eq!(
        retried, expected,
        "{name} must retry exactly the retryable kinds of shared/src/error.rs plus Lambda's transient errors"
    );
    let timeout = state["TimeoutSeconds"].as_u64().unwrap_or_default();
    assert!(
        (901..=3600).contains(&timeout),
        "{name}: TimeoutSeconds {timeout} must outlast Lambda's 900 s maximum (and fail a lost invocation)"
    );
}

fn check_lambda_tasks(definition: &Value, tasks: &[&str]) {
    let states = &definition["States"];
    let lambda_tasks = lambda_tasks(states);
    let names: BTreeSet<&str> = lambda_tasks.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, tasks.iter().copied().collect::<BTreeSet<&str>>());

    for (name, state) in lambda_tasks {
        check_retries(name, state);
        let catch = state["Catch"].as_array().expect("Catch");
        assert_eq!(strings(&catch[0]["ErrorEquals"]), ["States.ALL"]);
        assert_eq!(catch[0]["Next"], "Notify failure", "{name}");
    }
    assert_eq!(states["Notify failure"]["Next"], "Failed");
    assert_eq!(states["Failed"]["Type"], "Fail");
}

#[test]
fn state_machine_retries_exactly_the_retryable_error_types() {
    let definition = asl("csv_pipeline.asl.json");
    check_lambda_tasks(&definition, &["Load", "Transform"]);
    let states = &definition["States"];
    // The event, in an envelope naming the execution: csv-to-parquet logs it, writes it into the curated rows
    // and answers it, and the loader records it in its ledger.
    assert_eq!(
        states["Transform"]["Parameters"]["Payload"],
        json!({"correlation_id.$": "$$.Execution.Id", "event.$": "$"})
    );
    assert_eq!(states["Prepare load"]["Parameters"]["request.$"], "$");
    let expected: BTreeSet<String> = ErrorKind::ALL
        .iter()
        .filter(|k| k.retryable())
        .map(|k| k.as_str().to_owned())
        .collect();
    // A burst of loads into one table: what the loader could not settle by retrying goes out as Conflict, and
    // the state machine keeps trying, spread out, for minutes before it gives up.
    let conflict = states["Load"]["Retry"]
        .as_array()
        .expect("Retry")
        .iter()
        .find(|r| strings(&r["ErrorEquals"]) == ["Conflict"])
        .expect("Load retries Conflict on its own");
    assert_eq!(conflict["JitterStrategy"], "FULL");
    assert!(conflict["MaxAttempts"].as_u64().unwrap_or_default() >= 6);
    // A schema change the dataset refuses, or files the warehouse table cannot take, fail at once: never
    // retried, caught, notified, like a failed quality gate.
    for kind in [
        ErrorKind::QualityGateFailed,
        ErrorKind::SchemaIncompatible,
        ErrorKind::SchemaMismatch,
    ] {
        assert!(
            !kind.retryable() && !expected.contains(kind.as_str()),
            "{kind}"
        );
    }
}

/// The backfill: a Distributed Map over a listed prefix, in batches, each child converting and loading its batch,
/// the results written to S3 and summed up; every Lambda task, the map's children's too, retries exactly the
/// retryable error types. A child's failure is not caught: the map counts it against ToleratedFailurePercentage.
#[test]
fn the_backfill_maps_batches_over_a_prefix_and_retries_exactly_the_retryable_error_types() {
    let definition = asl("backfill.asl.json");
    let states = &definition["States"];
    let map = &states["Objects"];
    assert_eq!(map["Type"], "Map");
    assert_eq!(
        map["ItemProcessor"]["ProcessorConfig"],
        json!({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"})
    );
    assert_eq!(
        map["ItemReader"],
        json!({"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket.$": "$.bucket", "Prefix.$": "$.prefix"}})
    );
    assert_eq!(
        map["ItemBatcher"]["BatchInput"],
        json!({"bucket.$": "$.bucket", "mode.$": "$.mode"})
    );
    assert_eq!(
        map["ResultWriter"]["Resource"],
        "arn:aws:states:::s3:putObject"
    );
    assert_eq!(map["Next"], "Report");
    // One dataset per backfill: its batches' files go to that dataset's table.
    let choices = states["Source"]["Choices"].to_string();
    assert!(choices.contains("\"raw/*/*\"") && choices.contains("\"quarantine/*/*\""));
    let children = &map["ItemProcessor"]["States"];
    let mut tasks: Vec<&str> = Vec::new();
    for (name, state) in lambda_tasks(states)
        .into_iter()
        .chain(lambda_tasks(children))
    {
        check_retries(name, state);
        tasks.push(name);
    }
    tasks.sort_unstable();
    assert_eq!(tasks, ["Convert batch", "Load batch", "Report"]);
    // One loader call per batch, with the batch's files; the convert step's payload names the child execution.
    assert_eq!(
        children["Prepare load"]["Parameters"]["files.$"],
        "$.convert.files"
    );
    assert_eq!(
        children["Convert batch"]["Parameters"]["Payload"]["correlation_id.$"],
        "$$.Execution.Id"
    );
}

#[test]
fn the_orders_state_machine_accepts_valid_and_duplicate_orders_and_notifies_the_rest() {
    let definition = asl("orders.asl.json");
    check_lambda_tasks(&definition, &["Validate"]);
    let states = &definition["States"];
    // The order, in an envelope naming the execution (the correlation id every function logs).
    assert_eq!(
        states["Validate"]["Parameters"]["Payload"],
        json!({"correlation_id.$": "$$.Execution.Id", "event.$": "$.order"})
    );
    let decide = &states["Decide"]["Choices"];
    let outcomes = |i: usize| -> Vec<String> {
        decide[i]["Or"]
            .as_array()
            .expect("Or")
            .iter()
            .map(|c| {
                assert_eq!(c["Variable"], "$.validation.result.status");
                string(&c["StringEquals"]).to_owned()
            })
            .collect()
    };
    assert_eq!(outcomes(0), ["valid", "duplicate"]);
    assert_eq!(decide[0]["Next"], "Accepted");
    assert_eq!(outcomes(1), ["invalid", "conflict"]);
    assert_eq!(decide[1]["Next"], "Notify rejection");
    assert_eq!(
        states["Notify rejection"]["Parameters"]["Message"]["errors.$"],
        "$.validation.result.errors",
        "every reason is notified"
    );
    assert_eq!(states["Rejected"]["Type"], "Succeed");
}

// --- Terraform against the emulator ----------------------------------------------------------------------------

/// A copy of the module in a temporary directory, with the emulator override, placeholder zips and variables.
struct Workspace {
    terraform: PathBuf,
    dir: tempfile::TempDir,
}

impl Workspace {
    fn module(&self) -> PathBuf {
        self.dir.path().join("module")
    }

    fn run(&self, args: &[&str]) -> Output {
        let started = Instant::now();
        let output = Command::new(&self.terraform)
            .args(args)
            .current_dir(self.module())
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.terraform.display()));
        eprintln!(
            "terraform {} -> {:?} in {:.1}s",
            args.first().copied().unwrap_or_default(),
            output.status.code(),
            started.elapsed().as_secs_f64()
        );
        output
    }

    /// Runs terraform and returns its stdout, failing the test with the end of its output when it fails.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "terraform {} failed:\n{}",
            args.join(" "),
            tail(&output)
        );
        String::from_utf8(output.stdout).expect("UTF-8 output")
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).expect("terraform printed JSON")
    }
}

fn tail(output: &Output) -> String {
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let start = text.char_indices().rev().nth(6000).map_or(0, |(i, _)| i);
    text[start..].to_owned()
}

/// `$TERRAFORM` or `terraform` on PATH, checked by running it.
fn terraform_binary() -> PathBuf {
    let binary =
        std::env::var_os("TERRAFORM").map_or_else(|| PathBuf::from("terraform"), PathBuf::from);
    match Command::new(&binary).arg("version").output() {
        Ok(o) if o.status.success() => binary,
        Ok(o) => panic!(
            "`{} version` failed: {}",
            binary.display(),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!(
            "Terraform is needed for this test and was not found ({}: {e}); install Terraform >= 1.9 or set TERRAFORM",
            binary.display()
        ),
    }
}

/// `$TF_PLUGIN_DIR` (default /opt/tf-plugins), which must hold the AWS provider the module pins.
fn plugin_dir() -> PathBuf {
    let dir = std::env::var_os("TF_PLUGIN_DIR")
        .map_or_else(|| PathBuf::from("/opt/tf-plugins"), PathBuf::from);
    let provider = dir.join("registry.terraform.io/hashicorp/aws/5.100.0");
    assert!(
        provider.is_dir(),
        "the AWS provider 5.100.0 is needed in a local mirror and is not at {} (set TF_PLUGIN_DIR to the mirror)",
        provider.display()
    );
    dir
}

/// The module prepared by `tf_workspace.py`, the preparation `make demo` uses too: a copy of the module's own
/// files, the emulator's provider override, the committed placeholder zip per function and the committed variables
/// of `infra/emulator/`, with this run's name prefix.
fn workspace(terraform: PathBuf, plugins: &Path, endpoint: &str, prefix: &str) -> Workspace {
    let dir = tempfile::tempdir().expect("temp dir");
    let ws = Workspace { terraform, dir };
    let script = workspace_root().join("tests/harness/tf_workspace.py");
    let out = Command::new(python())
        .arg(&script)
        .arg(ws.dir.path())
        .args(["--endpoint", endpoint, "--name-prefix", prefix])
        .output()
        .expect("run tf_workspace.py");
    assert!(
        out.status.success(),
        "tf_workspace.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        Path::new(String::from_utf8_lossy(&out.stdout).trim()),
        ws.module()
    );
    let plugin_arg = format!("-plugin-dir={}", plugins.display());
    ws.ok(&["init", "-no-color", "-input=false", &plugin_arg]);
    ws
}

/// A resource's values in `terraform show -json` output (state or plan), by address.
fn resource<'a>(state: &'a Value, address: &str) -> &'a Value {
    state["values"]["root_module"]["resources"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["address"] == address))
        .map(|r| &r["values"])
        .unwrap_or_else(|| panic!("{address} is not in the state"))
}

fn policy_document(policy: &Value) -> Value {
    serde_json::from_str(string(policy)).expect("policy JSON")
}

/// A policy document as (action, resource) pairs; every statement must allow.
fn grants(policy: &Value) -> BTreeSet<(String, String)> {
    let doc = policy_document(policy);
    let mut pairs = BTreeSet::new();
    for statement in doc["Statement"].as_array().expect("Statement") {
        assert_eq!(statement["Effect"], "Allow", "{statement}");
        for action in strings(&statement["Action"]) {
            for resource in strings(&statement["Resource"]) {
                pairs.insert((action.clone(), resource));
            }
        }
    }
    pairs
}

fn string(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
}

/// The values of one condition key in the statement with this Sid.
fn condition(policy: &Value, sid: &str, test: &str, key: &str) -> Vec<String> {
    let doc = policy_document(policy);
    let statement = doc["Statement"]
        .as_array()
        .and_then(|ss| ss.iter().find(|s| s["Sid"] == sid))
        .unwrap_or_else(|| panic!("no statement {sid} in {doc}"));
    strings(&statement["Condition"][test][key])
}

/// What `terraform apply` left: outputs and state, with the lookups the checks share.
struct Deployed {
    prefix: String,
    outputs: Value,
    state: Value,
}

impl Deployed {
    fn out(&self, name: &str) -> Value {
        self.outputs[name]["value"].clone()
    }

    fn out_str(&self, name: &str) -> String {
        string(&self.out(name)).to_owned()
    }

    fn values(&self, address: &str) -> &Value {
        resource(&self.state, address)
    }

    fn arn(&self, address: &str) -> String {
        string(&self.values(address)["arn"]).to_owned()
    }

    fn function(&self, name: &str) -> &Value {
        self.values(&format!("aws_lambda_function.fn[\"{name}\"]"))
    }

    fn function_arn(&self, name: &str) -> String {
        string(&self.function(name)["arn"]).to_owned()
    }

    /// The log streams of a function's log group, as its policy names them.
    fn log_streams(&self, name: &str) -> String {
        format!(
            "{}:*",
            self.arn(&format!("aws_cloudwatch_log_group.fn[\"{name}\"]"))
        )
    }

    /// The objects under a prefix of the data bucket, as a policy names them.
    fn objects(&self, prefix: &str) -> String {
        format!("{}/{prefix}*", self.out_str("bucket_arn"))
    }

    fn policy(&self, address: &str) -> &Value {
        &self.values(address)["policy"]
    }
}

#[test]
fn terraform_apply_builds_the_pipeline_on_the_emulator_and_destroy_removes_it() {
    let started = Instant::now();
    // The tools first, so a machine without them fails at once and says why.
    let (terraform, plugins) = (terraform_binary(), plugin_dir());
    let moto = Moto::shared();
    let prefix = format!("tft{}", std::process::id());
    let ws = workspace(terraform, &plugins, &moto.endpoint(), &prefix);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");

    ws.ok(&["apply", "-no-color", "-auto-approve"]);
    let deployed = Deployed {
        prefix: prefix.clone(),
        outputs: ws.json(&["output", "-json"]),
        state: ws.json(&["show", "-json"]),
    };
    check_outputs(&deployed);
    check_functions(&deployed);
    runtime.block_on(check_triggers(&deployed));
    check_event_source_mapping(&deployed);
    check_state_machine(&deployed);
    check_backfill(&deployed);
    check_webhook(&deployed);
    check_data_alarms(&deployed);
    check_dashboard(&deployed);
    check_least_privilege(&deployed);
    runtime.block_on(check_tables(&deployed));
    runtime.block_on(check_raw_protection(&deployed));

    // Applied again, nothing changes: no drift, and the zips' hashes are stable.
    let replan = ws.run(&["plan", "-no-color", "-detailed-exitcode"]);
    assert_eq!(
        replan.status.code(),
        Some(0),
        "a plan right after apply must be empty:\n{}",
        tail(&replan)
    );

    check_no_warehouse_plan(&ws, &deployed);

    ws.ok(&["destroy", "-no-color", "-auto-approve"]);
    let after = ws.json(&["show", "-json"]);
    assert!(
        after["values"].is_null() || after["values"]["root_module"]["resources"].is_null(),
        "destroy leaves an empty state: {after}"
    );
    runtime.block_on(async {
        let s3 = s3_client().await;
        let replicas = deployed.out("replica_bucket_names");
        let buckets = [
            deployed.out_str("bucket_name"),
            deployed.out_str("landing_bucket_name"),
            string(&replicas["landing"]).to_owned(),
            string(&replicas["curated"]).to_owned(),
        ];
        for bucket in buckets {
            let gone = s3.head_bucket().bucket(&bucket).send().await;
            assert!(gone.is_err(), "{bucket} is deleted");
        }
        let tables = dynamodb_client()
            .await
            .list_tables()
            .send()
            .await
            .expect("list tables");
        assert!(
            !tables.table_names().iter().any(|t| t.starts_with(&prefix)),
            "{:?}",
            tables.table_names()
        );
    });
    eprintln!(
        "apply, checks, plans and destroy took {:.0}s",
        started.elapsed().as_secs_f64()
    );
}

fn check_outputs(d: &Deployed) {
    let p = &d.prefix;
    assert_eq!(
        d.out_str("bucket_name"),
        format!("{p}-data-123456789012-us-east-1")
    );
    assert_eq!(
        d.out_str("landing_bucket_name"),
        format!("{p}-landing-123456789012-us-east-1")
    );
    assert_eq!(
        d.out("replica_bucket_names"),
        serde_json::json!({
            "landing": format!("{p}-landing-123456789012-eu-west-1"),
            "curated": format!("{p}-curated-123456789012-eu-west-1"),
        })
    );
    assert_eq!(d.out("raw_csv_path"), "state-machine");
    assert_eq!(d.out("stream_name"), format!("{p}-events"));
    assert_eq!(d.out("latest_table_name"), format!("{p}-events-latest"));
    assert_eq!(d.out("orders_table_name"), format!("{p}-orders"));
    assert!(
        d.out_str("state_machine_arn")
            .ends_with(&format!(":stateMachine:{p}-csv-pipeline"))
    );
    assert_eq!(
        d.out("glue_database"),
        format!("{}_datasets", p.replace('-', "_"))
    );
    assert_eq!(d.out("athena_workgroup"), format!("{p}-datasets"));
}

/// The runtime, architecture and log format asked for, the zip's hash as Lambda computed it, the environment.
fn check_functions(d: &Deployed) {
    for name in FUNCTIONS {
        let f = d.function(name);
        assert_eq!(f["function_name"], format!("{}-{name}", d.prefix));
        assert_eq!(f["runtime"], "provided.al2023");
        assert_eq!(f["architectures"], serde_json::json!(["arm64"]));
        assert_eq!(f["logging_config"][0]["log_format"], "JSON");
        assert_eq!(
            f["logging_config"][0]["log_group"],
            format!("/aws/lambda/{}-{name}", d.prefix)
        );
        assert_eq!(f["source_code_hash"], f["code_sha256"], "{name}");
    }
    let loader = d.function("redshift-loader");
    assert_eq!(loader["reserved_concurrent_executions"], 4);
    let env = &loader["environment"][0]["variables"];
    assert_eq!(env["REDSHIFT_CLUSTER_ID"], "warehouse");
    assert_eq!(env["REDSHIFT_DB_USER"], "loader");
    assert_eq!(env["COPY_ROLE_ARN"], d.out("copy_role_arn"));
    assert_eq!(env["TARGET_TABLE"], "analytics.{dataset}");
    let converter = d.function("csv-to-parquet");
    assert_eq!(
        converter["environment"][0]["variables"]["RAW_PREFIX"],
        "raw/"
    );
    // The schema registry is the datasets' Glue database, which Athena queries through its workgroup.
    let vars = &converter["environment"][0]["variables"];
    assert_eq!(vars["GLUE_DATABASE"], d.out("glue_database"));
    assert_eq!(
        (
            vars["SCHEMA_EVOLUTION"].as_str(),
            vars["SCHEMA_COMPATIBILITY"].as_str()
        ),
        (Some("add-columns"), Some("BACKWARD"))
    );
    let workgroup = &d.values("aws_athena_workgroup.datasets")["configuration"][0];
    assert_eq!(workgroup["enforce_workgroup_configuration"], true);
    let results = &workgroup["result_configuration"][0];
    assert_eq!(
        results["output_location"],
        format!("s3://{}/athena-results/", d.out_str("bucket_name"))
    );
    assert_eq!(
        results["encryption_configuration"][0]["encryption_option"],
        "SSE_S3"
    );
    assert_eq!(
        converter["dead_letter_config"],
        serde_json::json!([]),
        "invoked synchronously by the state machine"
    );
    assert_eq!(
        d.function("order-validator")["dead_letter_config"][0]["target_arn"],
        d.arn("aws_sqs_queue.async_failures")
    );
}

/// The landing bucket's notification, read from the emulator (orders to order-validator, raw/ only to EventBridge),
/// and the EventBridge rule that takes raw/ CSVs to the state machine. The data bucket starts nothing.
async fn check_triggers(d: &Deployed) {
    let s3 = s3_client().await;
    // The emulator cannot read back a bucket's empty notification configuration, so: the data bucket has none.
    let notifying: Vec<&Value> = d.state["values"]["root_module"]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter(|r| r["type"] == "aws_s3_bucket_notification")
        .map(|r| &r["values"]["bucket"])
        .collect();
    assert_eq!(
        notifying,
        [&d.out("landing_bucket_name")],
        "outputs trigger nothing"
    );
    let notification = s3
        .get_bucket_notification_configuration()
        .bucket(d.out_str("landing_bucket_name"))
        .send()
        .await
        .expect("get notification configuration");
    assert!(
        notification.event_bridge_configuration().is_some(),
        "the bucket sends its events to EventBridge"
    );
    let lambdas = notification.lambda_function_configurations();
    assert_eq!(lambdas.len(), 1, "{lambdas:?}");
    assert_eq!(
        lambdas[0].lambda_function_arn(),
        d.function_arn("order-validator")
    );
    assert_eq!(lambdas[0].events().len(), 1);
    assert_eq!(lambdas[0].events()[0].as_str(), "s3:ObjectCreated:*");
    let rules: BTreeMap<String, String> = lambdas[0]
        .filter()
        .and_then(|f| f.key())
        .map(|k| k.filter_rules())
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r.name()
                    .map(|n| n.as_str().to_lowercase())
                    .unwrap_or_default(),
                r.value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        BTreeMap::from([
            ("prefix".to_owned(), "orders/incoming/".to_owned()),
            ("suffix".to_owned(), ".json".to_owned()),
        ]),
        "with a warehouse raw/ has exactly one route, and it is not a notification"
    );

    let rule = d.values("aws_cloudwatch_event_rule.raw_csv[0]");
    let pattern: Value =
        serde_json::from_str(string(&rule["event_pattern"])).expect("pattern JSON");
    assert_eq!(pattern["source"], serde_json::json!(["aws.s3"]));
    assert_eq!(
        pattern["detail-type"],
        serde_json::json!(["Object Created"])
    );
    assert_eq!(
        pattern["detail"]["bucket"]["name"],
        serde_json::json!([d.out("landing_bucket_name")])
    );
    assert_eq!(
        pattern["detail"]["object"]["key"],
        serde_json::json!([{"wildcard": "raw/*.csv"}, {"wildcard": "raw/*.csv.gz"}])
    );
    let target = d.values("aws_cloudwatch_event_target.raw_csv[0]");
    assert_eq!(target["arn"], d.out("state_machine_arn"));
    assert_eq!(
        target["dead_letter_config"][0]["arn"],
        d.arn("aws_sqs_queue.async_failures")
    );
}

/// Raw inputs cannot be lost: the landing bucket's default retention (the emulator's tfvars: GOVERNANCE, 1 day), a
/// locked raw object that no one can delete (a delete only adds a marker, and the version stays readable), and the
/// replication of the landing bucket and of curated/ to the second region, with Replication Time Control.
async fn check_raw_protection(d: &Deployed) {
    let s3 = s3_client().await;
    let landing = d.out_str("landing_bucket_name");
    let lock = s3
        .get_object_lock_configuration()
        .bucket(&landing)
        .send()
        .await
        .expect("object lock configuration");
    let lock = lock.object_lock_configuration().expect("configured");
    let retention = lock
        .rule()
        .and_then(|r| r.default_retention())
        .expect("default retention");
    assert_eq!(
        (
            lock.object_lock_enabled().map(|e| e.as_str()),
            retention.mode().map(|m| m.as_str()),
            retention.days()
        ),
        (Some("Enabled"), Some("GOVERNANCE"), Some(1))
    );

    let key = "raw/orders/locked.csv";
    let put = s3
        .put_object()
        .bucket(&landing)
        .key(key)
        .body(b"order_id,qty\nPO-1,1\n".to_vec().into())
        .send()
        .await
        .expect("a producer's upload");
    let version = put.version_id().expect("a version").to_owned();
    let refused = s3
        .delete_object()
        .bucket(&landing)
        .key(key)
        .version_id(&version)
        .send()
        .await
        .expect_err("a locked version cannot be deleted before its retention ends");
    assert_eq!(
        refused.as_service_error().and_then(|e| e.meta().code()),
        Some("AccessDenied"),
        "{refused:?}"
    );
    s3.delete_object()
        .bucket(&landing)
        .key(key)
        .send()
        .await
        .expect("a delete without a version adds a marker");
    let kept = s3
        .get_object()
        .bucket(&landing)
        .key(key)
        .version_id(&version)
        .send()
        .await
        .expect("the locked version is still there");
    assert_eq!(
        kept.object_lock_mode().map(|m| m.as_str()),
        Some("GOVERNANCE")
    );

    let replicas = d.out("replica_bucket_names");
    for (source, replica, prefix) in [
        (
            landing.clone(),
            string(&replicas["landing"]).to_owned(),
            None,
        ),
        (
            d.out_str("bucket_name"),
            string(&replicas["curated"]).to_owned(),
            Some("curated/"),
        ),
    ] {
        let config = s3
            .get_bucket_replication()
            .bucket(&source)
            .send()
            .await
            .expect("replication configuration");
        let config = config.replication_configuration().expect("configured");
        assert_eq!(config.role(), d.arn("aws_iam_role.replication[0]"));
        let [rule] = config.rules() else {
            panic!("one rule: {config:?}")
        };
        let destination = rule.destination().expect("destination");
        assert_eq!(
            destination.bucket(),
            format!("arn:aws:s3:::{replica}"),
            "{source}"
        );
        assert_eq!(
            destination.storage_class().map(|c| c.as_str()),
            Some("STANDARD_IA")
        );
        let rtc = destination.replication_time().expect("RTC");
        assert_eq!(
            (rtc.status().as_str(), rtc.time().and_then(|t| t.minutes())),
            ("Enabled", Some(15))
        );
        assert_eq!(
            destination.metrics().map(|m| m.status().as_str()),
            Some("Enabled")
        );
        assert_eq!(
            rule.delete_marker_replication()
                .and_then(|m| m.status())
                .map(|s| s.as_str()),
            Some("Disabled"),
            "a delete in the source leaves the replica whole"
        );
        assert_eq!(
            rule.filter()
                .and_then(|f| f.prefix())
                .filter(|p| !p.is_empty()),
            prefix,
            "{source}"
        );
    }
    // The landing bucket's replica locks what it receives as the source does.
    let replica_lock = s3
        .get_object_lock_configuration()
        .bucket(string(&replicas["landing"]))
        .send()
        .await
        .expect("replica object lock");
    assert!(replica_lock.object_lock_configuration().is_some());
}

/// The backfill machine as rendered: the emulator's tfvars set its batch size and concurrency; it lists raw/ in the
/// landing bucket and quarantine/ in the data bucket, runs the converter and the loader, writes its results to
/// backfill-results/, and fails when more than 5 % of its batches do.
fn check_backfill(d: &Deployed) {
    let machine = d.values("aws_sfn_state_machine.backfill[0]");
    assert_eq!(machine["arn"], d.out("backfill_state_machine_arn"));
    assert_eq!(machine["type"], "STANDARD");
    assert_eq!(machine["logging_configuration"][0]["level"], "ERROR");
    let text = string(&machine["definition"]);
    assert!(!text.contains("${"), "every template variable is rendered");
    let definition: Value = serde_json::from_str(text).expect("definition JSON");
    let states = &definition["States"];
    let map = &states["Objects"];
    assert_eq!(
        (
            &map["ItemBatcher"]["MaxItemsPerBatch"],
            &map["MaxConcurrency"],
            &map["ToleratedFailurePercentage"]
        ),
        (&json!(25), &json!(4), &json!(5))
    );
    assert_eq!(
        states["Raw objects"]["Parameters"]["bucket"],
        d.out("landing_bucket_name")
    );
    assert_eq!(
        states["Quarantine objects"]["Parameters"]["bucket"],
        d.out("bucket_name")
    );
    assert_eq!(
        map["ResultWriter"]["Parameters"],
        json!({"Bucket": d.out("bucket_name"), "Prefix": "backfill-results/"})
    );
    let children = &map["ItemProcessor"]["States"];
    assert_eq!(
        children["Convert batch"]["Parameters"]["FunctionName"],
        d.function_arn("csv-to-parquet")
    );
    assert_eq!(
        children["Load batch"]["Parameters"]["FunctionName"],
        d.function_arn("redshift-loader")
    );
    assert_eq!(
        states["Report"]["Parameters"]["FunctionName"],
        d.function_arn("csv-to-parquet")
    );
    // An alarm when a backfill fails, like every state machine's.
    let alarm = d.values("aws_cloudwatch_metric_alarm.state_machine_failures[\"backfill\"]");
    assert!(
        alarm["metric_query"]
            .as_array()
            .expect("metric queries")
            .iter()
            .any(|q| q["metric"][0]["dimensions"]["StateMachineArn"] == machine["arn"]),
        "{alarm}"
    );
}

fn check_event_source_mapping(d: &Deployed) {
    let esm = d.values("aws_lambda_event_source_mapping.events");
    assert_eq!(esm["event_source_arn"], d.out("stream_arn"));
    assert_eq!(esm["function_arn"], d.function_arn("kinesis-normalizer"));
    assert_eq!(
        esm["function_response_types"],
        serde_json::json!(["ReportBatchItemFailures"])
    );
    assert_eq!(esm["bisect_batch_on_function_error"], true);
    assert_eq!(esm["maximum_retry_attempts"], 5);
    assert_eq!(esm["maximum_record_age_in_seconds"], 3600);
    assert_eq!(esm["starting_position"], "TRIM_HORIZON");
    assert_eq!(
        esm["destination_config"][0]["on_failure"][0]["destination_arn"],
        d.arn("aws_sqs_queue.kinesis_failures")
    );
}

/// The state machine as deployed: the rendered ASL, wired to the functions and the topic.
fn check_state_machine(d: &Deployed) {
    let machine = d.values("aws_sfn_state_machine.csv_pipeline[0]");
    let text = string(&machine["definition"]);
    assert!(!text.contains("${"), "every template variable is rendered");
    let definition: Value = serde_json::from_str(text).expect("definition JSON");
    let states = &definition["States"];
    let topic = d.out("notifications_topic_arn");
    assert_eq!(definition["StartAt"], "Transform");
    assert_eq!(
        states["Transform"]["Parameters"]["FunctionName"],
        d.function_arn("csv-to-parquet")
    );
    assert_eq!(
        states["Load"]["Parameters"]["FunctionName"],
        d.function_arn("redshift-loader")
    );
    assert_eq!(states["Notify success"]["Parameters"]["TopicArn"], topic);
    assert_eq!(states["Notify failure"]["Parameters"]["TopicArn"], topic);
    assert_eq!(states["Transform"]["Next"], "Quality gate");
    assert_eq!(
        states["Load finished?"]["Choices"][0]["Next"],
        "Wait for the load"
    );
    assert_eq!(states["Wait for the load"]["Next"], "Poll the load");
    assert_eq!(states["Poll the load"]["Next"], "Load");
    assert_eq!(
        states["Poll the load"]["Parameters"]["request.$"],
        "$.load.result"
    );
    assert_eq!(machine["logging_configuration"][0]["level"], "ERROR");
}

/// The order webhook: the HTTP API's route, integration, stage (access logs, throttling) and permission, the
/// function's environment, and the orders state machine it starts.
fn check_webhook(d: &Deployed) {
    let p = &d.prefix;
    let api = d.values("aws_apigatewayv2_api.webhook[0]");
    assert_eq!(api["protocol_type"], "HTTP");
    let route = d.values("aws_apigatewayv2_route.webhook[0]");
    assert_eq!(route["route_key"], "POST /orders");
    let integration = d.values("aws_apigatewayv2_integration.webhook[0]");
    assert_eq!(
        route["target"],
        format!("integrations/{}", string(&integration["id"]))
    );
    assert_eq!(integration["integration_type"], "AWS_PROXY");
    assert_eq!(integration["payload_format_version"], "2.0");
    assert_eq!(
        integration["integration_uri"],
        d.function("order-webhook")["invoke_arn"]
    );
    let stage = d.values("aws_apigatewayv2_stage.webhook[0]");
    assert_eq!(stage["name"], "$default");
    assert_eq!(
        stage["access_log_settings"][0]["destination_arn"],
        d.arn("aws_cloudwatch_log_group.webhook_access[0]")
    );
    let throttling = &stage["default_route_settings"][0];
    assert_eq!(
        (
            throttling["throttling_rate_limit"].as_f64(),
            throttling["throttling_burst_limit"].as_i64()
        ),
        (Some(50.0), Some(100))
    );
    let permission = d.values("aws_lambda_permission.webhook[0]");
    assert_eq!(permission["principal"], "apigateway.amazonaws.com");
    assert_eq!(
        permission["source_arn"],
        format!("{}/*/POST/orders", string(&api["execution_arn"]))
    );
    assert!(d.out_str("webhook_url").ends_with("/orders"));

    let machine_arn = d.out_str("orders_state_machine_arn");
    assert!(machine_arn.ends_with(&format!(":stateMachine:{p}-orders")));
    let env = &d.function("order-webhook")["environment"][0]["variables"];
    assert_eq!(env["ORDERS_STATE_MACHINE_ARN"], machine_arn.as_str());
    assert_eq!(env["WEBHOOK_SECRET_ARN"], d.out("webhook_secret_arn"));
    assert_eq!(env["SIGNATURE_TOLERANCE_SECS"], "300");
    let secret = d.values("aws_secretsmanager_secret.webhook[0]");
    assert_eq!(
        secret["kms_key_id"],
        d.arn("aws_kms_key.webhook[0]").as_str()
    );
    let machine = d.values("aws_sfn_state_machine.orders[0]");
    assert_eq!(
        machine["type"], "STANDARD",
        "only standard workflows refuse a second execution of one name"
    );
    let text = string(&machine["definition"]);
    assert!(!text.contains("${"), "every template variable is rendered");
    let definition: Value = serde_json::from_str(text).expect("definition JSON");
    assert_eq!(
        definition["States"]["Validate"]["Parameters"]["FunctionName"],
        d.function_arn("order-validator")
    );
    assert_eq!(
        definition["States"]["Notify rejection"]["Parameters"]["TopicArn"],
        d.out("notifications_topic_arn")
    );
    let alarm = d.values("aws_cloudwatch_metric_alarm.state_machine_failures[\"orders\"]");
    assert_eq!(alarm["alarm_actions"][0], d.out("notifications_topic_arn"));
}

/// Alarms on the data (the emulator's tfvars watch dataset `orders`): the stream's dead letters and failed records,
/// and the dataset's rejection ratio, freshness and volume, each to the notifications topic.
fn check_data_alarms(d: &Deployed) {
    let topic = d.out("notifications_topic_arn");
    let alarm = |address: &str| {
        let a = d.values(address);
        assert_eq!(a["alarm_actions"], serde_json::json!([topic]), "{address}");
        a
    };
    for (key, metric) in [
        ("dead-letters", "DeadLettered"),
        ("failed-records", "RecordsFailed"),
    ] {
        let a = alarm(&format!(
            "aws_cloudwatch_metric_alarm.stream_data[\"{key}\"]"
        ));
        assert_eq!(
            (&a["namespace"], &a["metric_name"], a["threshold"].as_f64()),
            (
                &serde_json::json!("Tributary"),
                &serde_json::json!(metric),
                Some(1.0)
            )
        );
        assert_eq!(a["dimensions"]["Function"], "kinesis-normalizer");
    }
    let queries = |a: &Value| -> BTreeMap<String, Value> {
        a["metric_query"]
            .as_array()
            .expect("metric_query")
            .iter()
            .map(|q| (string(&q["id"]).to_owned(), q.clone()))
            .collect()
    };
    let rejections = alarm("aws_cloudwatch_metric_alarm.dataset_rejections[\"orders\"]");
    assert_eq!(rejections["threshold"].as_f64(), Some(0.01));
    let q = queries(rejections);
    assert_eq!(
        q["ratio"]["expression"],
        "IF(rows_in > 0, rejected / rows_in, 0)"
    );
    assert_eq!(q["rejected"]["metric"][0]["metric_name"], "RowsRejected");
    assert_eq!(q["rows_in"]["metric"][0]["dimensions"]["Dataset"], "orders");

    let freshness = alarm("aws_cloudwatch_metric_alarm.dataset_freshness[\"orders\"]");
    assert_eq!(
        (
            &freshness["metric_name"],
            &freshness["treat_missing_data"],
            freshness["evaluation_periods"].as_u64()
        ),
        (
            &serde_json::json!("FilesConverted"),
            &serde_json::json!("breaching"),
            Some(24)
        ),
        "silence is the alarm"
    );

    let volume = alarm("aws_cloudwatch_metric_alarm.dataset_volume[\"orders\"]");
    assert_eq!(volume["threshold_metric_id"], "band");
    let q = queries(volume);
    assert_eq!(q["band"]["expression"], "ANOMALY_DETECTION_BAND(rows, 2)");
    assert_eq!(q["rows"]["metric"][0]["metric_name"], "RowsOut");
}

/// The dashboard: every function's duration percentiles, the rejection ratio of all datasets and of `orders`, the
/// stream's dead letters and iterator age, both state machines' outcomes, the webhook's answers.
fn check_dashboard(d: &Deployed) {
    let board = d.values("aws_cloudwatch_dashboard.pipeline");
    assert_eq!(board["dashboard_name"], format!("{}-pipeline", d.prefix));
    let body: Value =
        serde_json::from_str(string(&board["dashboard_body"])).expect("dashboard JSON");
    let widgets = body["widgets"].as_array().expect("widgets");
    let titled = |start: &str| -> &Value {
        widgets
            .iter()
            .find(|w| string(&w["properties"]["title"]).starts_with(start))
            .unwrap_or_else(|| panic!("no widget titled {start}…"))
    };
    // Every metric of every widget is a row (an array): CloudWatch refuses anything else.
    for w in widgets {
        for row in w["properties"]["metrics"].as_array().expect("metrics") {
            assert!(row.is_array(), "{}: {row}", w["properties"]["title"]);
        }
    }
    let text = |w: &Value| w["properties"]["metrics"].to_string();
    let latency = text(titled("Lambda duration p50"));
    for name in FUNCTIONS {
        for stat in ["p50", "p95", "p99"] {
            assert!(latency.contains(&format!("{name} {stat}")), "{name} {stat}");
        }
    }
    let ratio = text(titled("Rejection ratio"));
    assert!(ratio.contains("IF(rows > 0, rejected / rows, 0)") && ratio.contains("\"orders\""));
    let stream = text(titled("Stream:"));
    assert!(stream.contains("DeadLettered") && stream.contains("IteratorAge"));
    let outcomes = text(titled("State machine executions"));
    assert!(
        outcomes.contains("csv-pipeline ExecutionsFailed")
            && outcomes.contains("orders ExecutionsSucceeded")
    );
    assert!(text(titled("Order webhook")).contains("Deliveries"));
    // Per step: the converter's and the loader's own, and the state machines' tasks and executions.
    let converter = text(titled("csv-to-parquet steps"));
    for step in [
        "S3ReadMs p99",
        "ConvertMs p50",
        "S3UploadMs p95",
        "DurationMs p99",
    ] {
        assert!(converter.contains(step), "{step}");
    }
    let loader = text(titled("redshift-loader steps"));
    assert!(loader.contains("CopyMs p95") && loader.contains("MergeMs p99"));
    let machine = text(titled("State machine steps"));
    assert!(
        machine.contains("ServiceIntegrationTime")
            && machine.contains("Lambda tasks p99")
            && machine.contains("csv-pipeline execution p50")
    );
}

/// A resource of `expected_grants.json`, its placeholders filled from what was deployed.
fn resolve(d: &Deployed, resource: &str) -> String {
    let Some((before, inner)) = resource.split_once('{') else {
        return resource.to_owned();
    };
    let (placeholder, rest) = inner.split_once('}').expect("a closed placeholder");
    let (kind, arg) = placeholder.split_once(':').unwrap_or((placeholder, ""));
    let value = match kind {
        "bucket" => d.out_str("bucket_arn"),
        "objects" => d.objects(arg),
        "logs" => d.log_streams(arg),
        "arn" => d.arn(arg),
        "out" => d.out_str(arg),
        "function" => d.function_arn(arg),
        "redshift" => "arn:aws:redshift:us-east-1:123456789012".to_owned(),
        "glue" => "arn:aws:glue:us-east-1:123456789012".to_owned(),
        "executions" => format!(
            "arn:aws:states:us-east-1:123456789012:execution:{}-{arg}:*",
            d.prefix
        ),
        // A Distributed Map's child executions: `execution:<machine>/<map run>:<id>`.
        "backfill_children" => format!(
            "arn:aws:states:us-east-1:123456789012:execution:{}-backfill/*",
            d.prefix
        ),
        other => panic!("unknown placeholder {other} in expected_grants.json"),
    };
    format!("{before}{value}{}", resolve(d, rest))
}

/// Every role's policy, action by action and resource by resource (`expected_grants.json`, data), and the
/// conditions that narrow them.
fn check_least_privilege(d: &Deployed) {
    let path = workspace_root().join("tests/harness/tests/expected_grants.json");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("expected grants"))
            .expect("expected grants are JSON");
    let roles = expected.as_object().expect("an object of role policies");
    for (address, statements) in roles.iter().filter(|(k, _)| !k.starts_with('_')) {
        let want: BTreeSet<(String, String)> = statements
            .as_array()
            .expect("statements")
            .iter()
            .flat_map(|s| {
                let resources: Vec<String> = strings(&s["resources"])
                    .iter()
                    .map(|r| resolve(d, r))
                    .collect();
                strings(&s["actions"])
                    .into_iter()
                    .flat_map(move |a| resources.clone().into_iter().map(move |r| (a.clone(), r)))
            })
            .collect();
        assert_eq!(grants(d.policy(address)), want, "{address}");
    }
    assert_eq!(
        condition(
            d.policy("aws_iam_role_policy.fn[\"kinesis-normalizer\"]"),
            "ListEvents",
            "StringLike",
            "s3:prefix"
        ),
        ["events/*"],
        "the redrive lists event objects only"
    );
    let loader = "aws_iam_role_policy.fn[\"redshift-loader\"]";
    assert_eq!(
        condition(d.policy(loader), "ListCurated", "StringLike", "s3:prefix"),
        ["curated/*"]
    );
    assert_eq!(
        condition(
            d.policy(loader),
            "FollowOwnStatements",
            "StringEquals",
            "redshift-data:statement-owner-iam-userid"
        ),
        ["${aws:userid}"],
        "only the statements this role submitted"
    );
    for (sid, prefix) in [
        ("ListRawObjects", "raw/*"),
        ("ListQuarantineObjects", "quarantine/*"),
    ] {
        assert_eq!(
            condition(
                d.policy("aws_iam_role_policy.backfill[0]"),
                sid,
                "StringLike",
                "s3:prefix"
            ),
            [prefix],
            "the backfill lists only what it may cover"
        );
    }
    assert_eq!(
        condition(
            d.policy("aws_iam_role_policy.copy[0]"),
            "ListCuratedAndManifests",
            "StringLike",
            "s3:prefix"
        ),
        ["curated/*", "manifests/*"]
    );
}

/// The tables, read from the emulator: keys, point-in-time recovery, the orders' TTL.
async fn check_tables(d: &Deployed) {
    let ddb = dynamodb_client().await;
    for (table, key) in [
        (d.out_str("latest_table_name"), "entity_id"),
        (d.out_str("orders_table_name"), "order_id"),
    ] {
        let described = ddb
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .expect("describe table");
        let schema = described.table().expect("table").key_schema();
        assert_eq!(schema.len(), 1);
        assert_eq!(schema[0].attribute_name(), key);
        let backups = ddb
            .describe_continuous_backups()
            .table_name(&table)
            .send()
            .await
            .expect("describe continuous backups");
        let pitr = backups
            .continuous_backups_description()
            .and_then(|b| b.point_in_time_recovery_description())
            .and_then(|p| p.point_in_time_recovery_status())
            .map(|s| s.as_str().to_owned());
        assert_eq!(pitr.as_deref(), Some("ENABLED"), "{table}");
    }
    // Both dedup windows expire their items on expires_at; the stream's is keyed by event id.
    let seen = d.out_str("seen_table_name");
    let described = ddb
        .describe_table()
        .table_name(&seen)
        .send()
        .await
        .expect("describe table");
    let schema = described.table().expect("table").key_schema();
    assert_eq!(schema[0].attribute_name(), "event_id");
    for table in [d.out_str("orders_table_name"), seen] {
        let ttl = ddb
            .describe_time_to_live()
            .table_name(&table)
            .send()
            .await
            .expect("describe TTL");
        let ttl = ttl.time_to_live_description().expect("TTL");
        assert_eq!(ttl.attribute_name(), Some("expires_at"), "{table}");
        assert_eq!(
            ttl.time_to_live_status().map(|s| s.as_str()),
            Some("ENABLED"),
            "{table}"
        );
    }
    let env = &d.function("kinesis-normalizer")["environment"][0]["variables"];
    assert_eq!(env["SEEN_TABLE"], d.out("seen_table_name"));
    assert_eq!(env["DEDUP_WINDOW_SECS"], "3600");
    // What a redrive reads: the event source mapping's on-failure queue.
    assert_eq!(
        env["REDRIVE_QUEUE_URL"],
        d.out("failure_queue_urls")["kinesis"]
    );
}

/// Without a warehouse, raw/ CSVs take the S3 notification instead, and only it: the bucket stops sending events to
/// EventBridge, the rule and state machine go, and csv-to-parquet gets the dead-letter queue of async invocations.
fn check_no_warehouse_plan(ws: &Workspace, d: &Deployed) {
    ws.ok(&[
        "plan",
        "-no-color",
        "-var=warehouse_enabled=false",
        "-out=no-warehouse.tfplan",
    ]);
    let plan = ws.json(&["show", "-json", "no-warehouse.tfplan"]);
    let change = |address: &str| -> (Vec<String>, Value) {
        plan["resource_changes"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["address"] == address))
            .map(|c| {
                (
                    strings(&c["change"]["actions"]),
                    c["change"]["after"].clone(),
                )
            })
            .unwrap_or_else(|| panic!("{address} is not in the plan"))
    };
    for removed in [
        "aws_sfn_state_machine.csv_pipeline[0]",
        "aws_cloudwatch_event_rule.raw_csv[0]",
        "aws_cloudwatch_event_target.raw_csv[0]",
        "aws_lambda_function.fn[\"redshift-loader\"]",
        "aws_iam_role.copy[0]",
    ] {
        assert_eq!(change(removed).0, ["delete"], "{removed}");
    }
    assert_eq!(
        change("aws_lambda_permission.s3[\"csv-to-parquet\"]").0,
        ["create"]
    );
    // The order webhook does not need the warehouse: nothing of it is deleted or replaced. (Policies that read
    // the functions' ARNs show as updated, their documents only known after apply.)
    let kept = plan["resource_changes"]
        .as_array()
        .expect("resource_changes")
        .iter()
        .filter(|c| {
            c["address"]
                .as_str()
                .is_some_and(|a| a.contains("webhook") || a.contains("orders"))
        })
        .filter(|c| strings(&c["change"]["actions"]).contains(&"delete".to_owned()))
        .map(|c| string(&c["address"]).to_owned())
        .collect::<Vec<_>>();
    assert!(kept.is_empty(), "{kept:?}");
    let (actions, after) = change("aws_s3_bucket_notification.landing");
    assert_eq!(actions, ["update"]);
    assert_eq!(after["eventbridge"], false);
    let mut raw: Vec<(String, String)> = after["lambda_function"]
        .as_array()
        .expect("lambda_function")
        .iter()
        .filter(|c| c["filter_prefix"] == "raw/")
        .map(|c| {
            assert_eq!(c["lambda_function_arn"], d.function_arn("csv-to-parquet"));
            (
                string(&c["filter_suffix"]).to_owned(),
                string(&c["events"][0]).to_owned(),
            )
        })
        .collect();
    raw.sort();
    assert_eq!(
        raw,
        [
            (".csv".to_owned(), "s3:ObjectCreated:*".to_owned()),
            (".csv.gz".to_owned(), "s3:ObjectCreated:*".to_owned()),
        ]
    );
    let (_, converter) = change("aws_lambda_function.fn[\"csv-to-parquet\"]");
    assert_eq!(
        converter["dead_letter_config"][0]["target_arn"],
        d.arn("aws_sqs_queue.async_failures"),
        "S3 invokes csv-to-parquet asynchronously now: its failures need the dead-letter queue"
    );
}
