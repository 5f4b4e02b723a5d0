//! `tributary redrive --queue-url URL`: kinesis-normalizer's redrive from the stream, run from a workstation
//! against the deployed stream, queue, bucket and tables (the one subcommand that talks to AWS).

use crate::output::error;
use kinesis_normalizer::config::Config;
use kinesis_normalizer::handler::Deps;
use kinesis_normalizer::redrive::{Request, redrive};
use std::io::Write;
use std::process::ExitCode;
use tributary_shared::config::ProcessEnv;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  tributary redrive --function tributary-kinesis-normalizer
  EVENTS_BUCKET=… LATEST_TABLE=… SEEN_TABLE=… ENTITY_KEY=customer_id tributary redrive --queue-url URL

The records are stored as kinesis-normalizer stores them, with its settings: with --function, the deployed
function's environment (read with lambda:GetFunctionConfiguration: EVENTS_BUCKET, LATEST_TABLE, SEEN_TABLE,
ENTITY_KEY, REDRIVE_QUEUE_URL, ...), so the redrive cannot differ from the live path; without it, this process's
environment. A message is deleted once all its records are stored; running it again changes nothing.
The report (JSON) names every range redriven, aged out of the stream, or left for the next run.
Exit codes: 0 every message redriven, 1 error, 3 messages left in the queue (aged out, failed or unreadable).")]
pub struct Args {
    /// The deployed kinesis-normalizer whose settings (and queue) to use.
    #[arg(long)]
    function: Option<String>,
    /// The event source mapping's on-failure queue (default: REDRIVE_QUEUE_URL).
    #[arg(long)]
    queue_url: Option<String>,
    /// Messages to handle in this run.
    #[arg(long, default_value_t = kinesis_normalizer::redrive::DEFAULT_MAX_MESSAGES)]
    max_messages: usize,
    /// Delete the messages of ranges the stream no longer holds, once reported.
    #[arg(long)]
    delete_aged_out: bool,
}

pub fn run(args: &Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(args)) {
        Ok(code) => code,
        Err(message) => {
            error(&message);
            ExitCode::FAILURE
        }
    }
}

async fn execute(args: &Args) -> Result<ExitCode, String> {
    // stdout is the report's.
    tributary_shared::metrics::off();
    let sdk = tributary_shared::aws::load_config().await;
    let config = match &args.function {
        Some(name) => Config::from_env(&deployed_environment(&sdk, name).await?),
        None => Config::from_env(&ProcessEnv),
    }
    .map_err(|e| format!("kinesis-normalizer's settings: {e}"))?;
    let queue_url = args
        .queue_url
        .clone()
        .or_else(|| config.redrive_queue_url.clone())
        .ok_or("no queue: give --queue-url or --function, or set REDRIVE_QUEUE_URL")?;
    let deps = Deps {
        s3: tributary_shared::s3::client(&sdk),
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        kinesis: aws_sdk_kinesis::Client::new(&sdk),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        config,
    };
    let request = Request {
        queue_url: Some(queue_url.clone()),
        max_messages: Some(args.max_messages),
        delete_aged_out: args.delete_aged_out,
    };
    let report = redrive(&deps, &queue_url, &request)
        .await
        .map_err(|e| e.to_string())?;
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    writeln!(std::io::stdout().lock(), "{text}").map_err(|e| format!("writing the report: {e}"))?;
    let left = report.failed.len()
        + report.unreadable.len()
        + report.aged_out.iter().filter(|r| !r.deleted).count();
    Ok(if left == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

/// The environment a deployed function runs with.
async fn deployed_environment(
    sdk: &tributary_shared::aws::SdkConfig,
    name: &str,
) -> Result<std::collections::HashMap<String, String>, String> {
    let function = aws_sdk_lambda::Client::new(sdk)
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
        .map_err(|e| {
            format!(
                "reading {name}'s configuration: {}",
                aws_sdk_lambda::error::DisplayErrorContext(&e)
            )
        })?;
    Ok(function
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default())
}
