// Runs one execution of a Step Functions state machine locally, for `make demo` and its integration test.
//
// The definition is executed by aws-local-stepfunctions, a real Amazon States Language interpreter (paths,
// Parameters, ResultSelector, Choice, Retry, Catch, Wait, Fail). It calls plain `arn:aws:lambda:...` resources
// itself, but not Step Functions' service integrations, so each Task state gets a local handler chosen by its
// Resource, doing what Step Functions does for that integration:
//   arn:aws:states:::lambda:invoke  POST to a Lambda Invoke API endpoint (`cargo lambda watch` serves one); the
//                                   result is {ExecutedVersion, Payload, StatusCode}, and a function error fails
//                                   the state with the function's errorType as Error and its error JSON as Cause.
//   arn:aws:states:::sns:publish    SNS Publish through the AWS SDK (endpoint AWS_ENDPOINT_URL); a Message that is
//                                   JSON, not a string, is sent serialized, as Step Functions does.
// Any other Resource is refused before the execution starts. A Map in DISTRIBUTED mode, which the interpreter does
// not run, is emulated by distributed-map.mjs (ItemReader over S3, ItemBatcher, MaxConcurrency,
// ToleratedFailurePercentage, ResultWriter), its child executions run by the interpreter; any field it does not
// implement is refused before the execution starts.
//
// Input (stdin), one JSON object:
//   definition     the ASL definition (object or string), e.g. from DescribeStateMachine
//   input          the execution input
//   executionArn   becomes $$.Execution.Id
//   functions      {"<function ARN or name>": "<name the Invoke API knows>", ...}
//   lambdaEndpoint "http://127.0.0.1:<port>"
//   waitMs         optional: every Wait state pauses this long instead (the demo does not wait 30 s)
//   retryMs        optional: every Retry pause lasts this long instead
// Output (stdout), one JSON object: {status: "SUCCEEDED" | "FAILED", output | error+cause, path: [state names in
// the order entered], events: [{type, state, ms, error?}], invocations: [{state, function, ms, error?}],
// maps: {children, failed, maxConcurrent, ms} (child executions of Distributed Maps)}.
// Exit status 0 whatever the execution's outcome; 1 when the runner itself could not run it.

import { readFileSync } from "node:fs";
import { SNSClient, PublishCommand } from "@aws-sdk/client-sns";
import { StateMachine, ExecutionError } from "aws-local-stepfunctions";
import {
  distributedMapHandler,
  distributedMaps,
  replaceDistributedMaps,
  unsupported,
} from "./distributed-map.mjs";

// aws-local-stepfunctions 3 uses Promise.withResolvers (Node >= 22); Node 20 lacks it.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

const LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke";
const SNS_PUBLISH = "arn:aws:states:::sns:publish";

/** An error a Catch or Retry matches by name, with Step Functions' Cause. */
class TaskError extends Error {
  constructor(name, cause) {
    super(cause);
    this.name = name;
  }
}

function fail(message) {
  process.stderr.write(`run-state-machine: ${message}\n`);
  process.exit(1);
}

/** Every Task state, including those inside Parallel branches and Map iterators. */
function taskStates(states, found = []) {
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === "Task") found.push([name, state]);
    for (const branch of state.Branches ?? []) taskStates(branch.States, found);
    const iterator = state.ItemProcessor ?? state.Iterator;
    if (iterator) taskStates(iterator.States, found);
  }
  return found;
}

/**
 * Lambda's Invoke API over HTTP. A function error is HTTP 200 with X-Amz-Function-Error from Lambda, and HTTP 500
 * with the error document as body from `cargo lambda watch`: both become the function's error.
 */
async function invoke(endpoint, functionName, payload) {
  const url = `${endpoint}/2015-03-31/functions/${encodeURIComponent(functionName)}/invocations`;
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "x-amz-invocation-type": "RequestResponse" },
    body: JSON.stringify(payload ?? {}),
  });
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const functionError = response.headers.get("x-amz-function-error");
  const isErrorDocument = body !== null && typeof body === "object" && typeof body.errorType === "string";
  if (functionError || (!response.ok && isErrorDocument)) {
    const name = isErrorDocument ? body.errorType : "Lambda.Unknown";
    return { error: new TaskError(name, text) };
  }
  if (!response.ok) {
    // The Invoke API itself failed (unknown function, service error): Lambda's own error names.
    const name = response.status === 404 ? "Lambda.ResourceNotFoundException" : "Lambda.ServiceException";
    return { error: new TaskError(name, `HTTP ${response.status}: ${text}`) };
  }
  return { payload: body };
}

function handlers(job, invocations) {
  const sns = new SNSClient({});
  const out = {};
  for (const [stateName, state] of taskStates(job.definition.States)) {
    if (state.Resource === LAMBDA_INVOKE) {
      out[stateName] = async (params) => {
        const requested = params?.FunctionName;
        const target = job.functions[requested];
        if (!target) {
          throw new TaskError("Lambda.ResourceNotFoundException", `no local function for ${requested}`);
        }
        const started = Date.now();
        const { payload, error } = await invoke(job.lambdaEndpoint, target, params.Payload);
        invocations.push({
          state: stateName,
          function: target,
          ms: Date.now() - started,
          ...(error ? { error: error.name } : {}),
        });
        if (error) throw error;
        return { ExecutedVersion: "$LATEST", Payload: payload, StatusCode: 200 };
      };
    } else if (state.Resource === SNS_PUBLISH) {
      out[stateName] = async (params) => {
        const message = typeof params.Message === "string" ? params.Message : JSON.stringify(params.Message);
        try {
          const result = await sns.send(
            new PublishCommand({ TopicArn: params.TopicArn, Subject: params.Subject, Message: message }),
          );
          return { MessageId: result.MessageId };
        } catch (e) {
          throw new TaskError(`SNS.${e.name ?? "SdkClientException"}`, String(e.message ?? e));
        }
      };
    } else {
      fail(`Task state "${stateName}" uses ${state.Resource}, which this runner does not emulate`);
    }
  }
  return out;
}

function overrides(job, definitionStates, taskHandlers) {
  const waitTimeOverrides = {};
  const retryIntervalOverrides = {};
  const all = [];
  const walk = (states) => {
    for (const [name, state] of Object.entries(states)) {
      all.push([name, state]);
      if (state.ItemProcessor) walk(state.ItemProcessor.States);
    }
  };
  walk(definitionStates);
  for (const [name, state] of all) {
    if (state.Type === "Wait" && job.waitMs !== undefined) waitTimeOverrides[name] = job.waitMs;
    if (state.Retry && job.retryMs !== undefined) retryIntervalOverrides[name] = job.retryMs;
  }
  return { taskResourceLocalHandlers: taskHandlers, waitTimeOverrides, retryIntervalOverrides };
}

async function main() {
  let job;
  try {
    job = JSON.parse(readFileSync(0, "utf8"));
  } catch (e) {
    fail(`stdin is not a JSON job: ${e.message}`);
  }
  if (typeof job.definition === "string") job.definition = JSON.parse(job.definition);
  for (const field of ["definition", "input", "executionArn", "functions", "lambdaEndpoint"]) {
    if (job[field] === undefined) fail(`the job has no ${field}`);
  }

  for (const [name, state] of distributedMaps(job.definition.States)) {
    const reason = unsupported(name, state);
    if (reason) fail(reason);
  }
  const invocations = [];
  const taskHandlers = handlers(job, invocations);
  const taskOverrides = overrides(job, job.definition.States, taskHandlers);
  const maps = { children: 0, failed: 0, maxConcurrent: 0, ms: 0 };
  // One child execution of a Distributed Map, by the interpreter, with the same local handlers.
  const runChild = async (child, input, executionArn) => {
    const run = new StateMachine(child).run(input, {
      overrides: taskOverrides,
      context: { Execution: { Id: executionArn, Name: executionArn.split(":").pop() } },
    });
    try {
      return { status: "SUCCEEDED", output: await run.result };
    } catch (e) {
      if (!(e instanceof ExecutionError)) throw e;
      const cause = e.cause ?? e;
      return { status: "FAILED", error: cause.name, cause: cause.message };
    }
  };
  const replaced = replaceDistributedMaps(job.definition);
  for (const [name, state] of Object.entries(replaced.maps)) {
    taskOverrides.taskResourceLocalHandlers[name] = distributedMapHandler(name, state, job, runChild, maps);
  }
  const machine = new StateMachine(replaced.definition);
  const started = Date.now();
  const execution = machine.run(job.input, {
    overrides: taskOverrides,
    context: { Execution: { Id: job.executionArn, Name: job.executionArn.split(":").pop() } },
  });

  const events = [];
  const path = [];
  const collecting = (async () => {
    for await (const event of execution.eventLogs) {
      const state = event.state?.name;
      if (event.type === "StateEntered") path.push(state);
      events.push({
        type: event.type,
        ...(state ? { state } : {}),
        ms: event.timestamp - started,
        ...(event.Error ? { error: event.Error } : {}),
      });
    }
  })();

  let report;
  try {
    const output = await execution.result;
    report = { status: "SUCCEEDED", output };
  } catch (e) {
    if (!(e instanceof ExecutionError)) throw e;
    const cause = e.cause ?? e;
    report = { status: "FAILED", error: cause.name, cause: cause.message };
  }
  await collecting;
  report.path = path;
  report.events = events;
  report.invocations = invocations;
  if (maps.children > 0) report.maps = maps;
  report.ms = Date.now() - started;
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((e) => fail(e?.stack ?? String(e)));
