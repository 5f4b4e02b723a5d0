//! The Step Functions adapter: one execution per delivery, named by the delivery id. A Standard workflow
//! refuses a second execution of one name, so a sender's retry never starts a second one: StartExecution with
//! the same name and input returns the running execution, and once it has ended (ExecutionAlreadyExists) the
//! existing execution's input tells a retry (identical) from another body under the same id (a conflict).

use aws_sdk_sfn::Client;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use tributary_shared::aws::AwsError;

/// What StartExecution did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// A new execution (or, while it runs, the same one again: Step Functions does not say which).
    New { execution_arn: String },
    /// The delivery was received before and its execution has ended.
    Again { execution_arn: String },
    /// The delivery id was received before with another body.
    Conflict { execution_arn: String },
}

/// The execution named `name` of `state_machine_arn`:
/// `arn:<partition>:states:<region>:<account>:execution:<machine>:<name>`.
pub fn execution_arn(state_machine_arn: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}

/// Starts the execution `name` with `input`.
pub async fn start(
    client: &Client,
    state_machine_arn: &str,
    name: &str,
    input: &str,
) -> Result<Started, AwsError> {
    let out = client
        .start_execution()
        .state_machine_arn(state_machine_arn)
        .name(name)
        .input(input)
        .send()
        .await;
    match out {
        Ok(out) => Ok(Started::New {
            execution_arn: out.execution_arn().to_owned(),
        }),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(StartExecutionError::ExecutionAlreadyExists(_))
            ) =>
        {
            let execution_arn = execution_arn(state_machine_arn, name);
            let existing = client
                .describe_execution()
                .execution_arn(&execution_arn)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeExecution", &execution_arn, &e))?;
            let same = match (
                serde_json::from_str::<serde_json::Value>(existing.input().unwrap_or_default()),
                serde_json::from_str::<serde_json::Value>(input),
            ) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            };
            Ok(if same {
                Started::Again { execution_arn }
            } else {
                Started::Conflict { execution_arn }
            })
        }
        Err(e) => Err(AwsError::from_sdk("StartExecution", state_machine_arn, &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_execution_arn_is_the_machine_arn_with_the_name() {
        assert_eq!(
            execution_arn(
                "arn:aws:states:eu-west-1:123456789012:stateMachine:tributary-orders",
                "msg_1"
            ),
            "arn:aws:states:eu-west-1:123456789012:execution:tributary-orders:msg_1"
        );
    }
}
