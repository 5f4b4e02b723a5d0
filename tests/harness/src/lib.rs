//! Test harness for integration tests: a `moto_server` and a throwaway PostgreSQL cluster on free loopback ports,
//! each shared by a test process, a Lambda Runtime API emulator that drives a function's real binary, and the
//! sample events in `events/`.

pub mod emf;
pub mod fault;
pub mod lambda;
pub mod moto;
pub mod postgres;
pub mod states;
pub mod streams;

pub use fault::FaultProxy;
pub use lambda::{InvokeError, LambdaProcess};
pub use moto::{Moto, boto3, python};
pub use postgres::Postgres;
pub use states::{InvokeApi, run_state_machine};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A sample event from `events/`, parsed.
/// Another package's binary from the same build (`target/<profile>/<name>`), for tests that drive two functions:
/// `cargo test --workspace` builds every member's binaries before any test runs.
pub fn sibling_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    // target/<profile>/deps/<test>-<hash>
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("a test binary under target/<profile>/deps/");
    let binary = profile.join(name);
    assert!(
        binary.exists(),
        "{} is not built: run the tests with `cargo test --workspace` (as `make test` does)",
        binary.display()
    );
    binary
}

pub fn fixture(name: &str) -> serde_json::Value {
    let path = workspace_root().join("events").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("fixture {} is not JSON: {e}", path.display()))
}

/// A seeded xorshift generator for generated test inputs: deterministic, with no dependency.
pub fn seeded_rng(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// A bucket name unique to this test process and call, so tests sharing one emulator never collide.
pub fn unique_bucket(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A database name unique to this test process and call, so tests sharing one cluster never collide: lower case
/// (no quoting surprises), within PostgreSQL's 63-byte limit for a short prefix.
pub fn unique_database(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// SDK configuration for the shared emulator (test credentials, us-east-1).
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(Moto::shared().endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "tributary-testkit",
        ))
        .load()
        .await
}

/// An S3 client for the shared emulator (path-style).
pub async fn s3_client() -> aws_sdk_s3::Client {
    let config = sdk_config().await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    )
}

/// A DynamoDB client for the shared emulator.
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk_config().await)
}

/// Creates an on-demand DynamoDB table with a string partition key `key`.
pub async fn create_table(ddb: &aws_sdk_dynamodb::Client, name: &str, key: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    ddb.create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(key)
                .key_type(KeyType::Hash)
                .build()
                .expect("key schema"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_or_else(|e| panic!("cannot create table {name}: {e}"));
}

/// Every key under `prefix`, in S3's order.
pub async fn list_keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let out = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .expect("list objects");
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

/// An object's bytes, or `None` when it does not exist.
pub async fn get_bytes(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Option<Vec<u8>> {
    let out = s3.get_object().bucket(bucket).key(key).send().await.ok()?;
    Some(
        out.body
            .collect()
            .await
            .expect("read object body")
            .into_bytes()
            .to_vec(),
    )
}

/// A bucket and a DynamoDB table of a test's own in the shared emulator, with the reads tests make of them.
#[derive(Debug)]
pub struct Stack {
    pub s3: aws_sdk_s3::Client,
    pub ddb: aws_sdk_dynamodb::Client,
    pub bucket: String,
    pub table: String,
}

impl Stack {
    /// Creates `<prefix>-<pid>-<n>` and its table `<bucket>-table`, keyed by the string attribute `table_key`.
    pub async fn new(prefix: &str, table_key: &str) -> Self {
        let stack = Self::bucket(prefix).await;
        create_table(&stack.ddb, &stack.table, table_key).await;
        stack
    }

    /// Creates `<prefix>-<pid>-<n>` only; `table` names a table that does not exist.
    pub async fn bucket(prefix: &str) -> Self {
        Self::named(&unique_bucket(prefix)).await
    }

    /// Creates bucket `bucket` (a sample event's, say) only; `table` names a table that does not exist.
    pub async fn named(bucket: &str) -> Self {
        let bucket = bucket.to_owned();
        let table = format!("{bucket}-table");
        let (s3, ddb) = (s3_client().await, dynamodb_client().await);
        s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("create bucket");
        Self {
            s3,
            ddb,
            bucket,
            table,
        }
    }

    /// Writes an object; returns its ETag without quotes.
    pub async fn put(&self, key: &str, body: Vec<u8>) -> String {
        let out = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from(body))
            .send()
            .await
            .expect("put object");
        out.e_tag().unwrap_or_default().trim_matches('"').to_owned()
    }

    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        list_keys(&self.s3, &self.bucket, prefix).await
    }

    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        get_bytes(&self.s3, &self.bucket, key).await
    }

    /// An object read as JSON; `None` when missing or not JSON.
    pub async fn get_json(&self, key: &str) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.get(key).await?).ok()
    }

    /// Every object under `prefix`, by key.
    pub async fn objects(&self, prefix: &str) -> std::collections::HashMap<String, Vec<u8>> {
        let mut out = std::collections::HashMap::new();
        for key in self.keys(prefix).await {
            let body = self.get(&key).await.expect("listed object exists");
            out.insert(key, body);
        }
        out
    }

    /// Every item of the table.
    pub async fn items(
        &self,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        self.ddb
            .scan()
            .table_name(&self.table)
            .send()
            .await
            .expect("scan")
            .items()
            .to_vec()
    }
}

/// A function's real binary under the Lambda Runtime API emulator, beside the stack it works on: what every
/// function's integration tests drive.
#[derive(Debug)]
pub struct World {
    pub stack: Stack,
    pub function: LambdaProcess,
}

impl World {
    /// Starts `binary` with `env`, reaching AWS at `endpoint`: the shared emulator, or a [`FaultProxy`] in front
    /// of it. The test itself reaches the emulator directly, through `stack`.
    pub fn start(
        stack: Stack,
        binary: &std::path::Path,
        endpoint: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let function = LambdaProcess::start(binary, endpoint, env);
        Self { stack, function }
    }

    /// Invokes the function (blocking, from a multi-threaded Tokio test).
    pub fn invoke(&mut self, event: &serde_json::Value) -> Result<serde_json::Value, InvokeError> {
        tokio::task::block_in_place(|| self.function.invoke(event))
    }

    /// The function's JSON log lines so far (not its EMF records), one object each.
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        self.function
            .log_text()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v.get("_aws").is_none() && v.get("level").is_some())
            .collect()
    }

    /// The EMF records the function printed so far, each checked against the format's rules (panics on one
    /// CloudWatch would drop).
    pub fn emf(&self) -> Vec<serde_json::Value> {
        self.function
            .log_text()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v.get("_aws").is_some())
            .inspect(|v| {
                if let Err(e) = emf::check(v) {
                    panic!("invalid EMF record ({e}): {v}");
                }
            })
            .collect()
    }
}

impl std::ops::Deref for World {
    type Target = Stack;
    fn deref(&self) -> &Stack {
        &self.stack
    }
}

/// Deploys a function's built binary to the shared emulator the way a user does, with
/// `cargo lambda deploy --endpoint-url … --binary-path …` (`.venv/bin/cargo-lambda`, which the Makefile installs),
/// under a role it creates first; checks what Lambda reports back (the `provided.al2023` runtime, the
/// `bootstrap` handler, the binary's architecture, 512 MB, 60 s and every variable of `env`) and returns it.
pub fn cargo_lambda_deploy(
    name: &str,
    binary: &std::path::Path,
    env: &[(&str, &str)],
) -> serde_json::Value {
    let endpoint = Moto::shared().endpoint();
    let role = "arn:aws:iam::123456789012:role/tributary-cargo-lambda";
    let boto = |script: &str| boto3(script, &[]);
    boto(
        r#"
import json, os, boto3
iam = boto3.client("iam", endpoint_url=os.environ["ENDPOINT"])
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
try:
    iam.create_role(RoleName="tributary-cargo-lambda", AssumeRolePolicyDocument=json.dumps(trust))
except iam.exceptions.EntityAlreadyExistsException:
    pass
"#,
    );
    let cargo_lambda = workspace_root().join(".venv/bin/cargo-lambda");
    assert!(
        cargo_lambda.exists(),
        "{} is missing: `make test` installs it (requirements/lambda.txt)",
        cargo_lambda.display()
    );
    let mut deploy = std::process::Command::new(&cargo_lambda);
    deploy
        .args(["lambda", "deploy", "--endpoint-url", &endpoint])
        .args(["--iam-role", role, "--memory", "512", "--timeout", "60"])
        .arg("--binary-path")
        .arg(binary)
        .current_dir(workspace_root())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1");
    for (k, v) in env {
        deploy.args(["--env-var", &format!("{k}={v}")]);
    }
    let out = deploy.arg(name).output().expect("cargo lambda runs");
    assert!(
        out.status.success(),
        "cargo lambda deploy {name}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let read_back = boto(&format!(
        r#"
import json, os, boto3
client = boto3.client("lambda", endpoint_url=os.environ["ENDPOINT"])
print(json.dumps(client.get_function_configuration(FunctionName="{name}"), default=str))
"#
    ));
    let config: serde_json::Value =
        serde_json::from_str(&read_back).expect("function configuration JSON");
    assert_eq!(config["Runtime"], "provided.al2023", "{config}");
    assert_eq!(config["Handler"], "bootstrap", "{config}");
    assert_eq!(
        config["Architectures"],
        serde_json::json!([std::env::consts::ARCH]),
        "the architecture of the binary deployed: {config}"
    );
    assert_eq!(
        (&config["MemorySize"], &config["Timeout"]),
        (&512.into(), &60.into())
    );
    for (k, v) in env {
        assert_eq!(config["Environment"]["Variables"][k], *v, "{config}");
    }
    config
}
