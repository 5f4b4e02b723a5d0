// Step Functions' Distributed Map, for the local runner (run-state-machine.mjs): aws-local-stepfunctions runs inline
// Map states only. A Map whose ItemProcessor runs in DISTRIBUTED mode is replaced, before the execution starts, by a
// Task state this module handles, which does what Step Functions does for the parts Tributary's backfill uses:
//   ItemReader      arn:aws:states:::s3:listObjectsV2 with Parameters {Bucket, Prefix}: every object under the
//                   prefix, in key order, as {Key, Etag, LastModified, Size, StorageClass}
//   ItemBatcher     MaxItemsPerBatch, BatchInput: each child execution gets {Items: [...], BatchInput}
//   MaxConcurrency  child executions run at most this many at once (0 or absent: all at once)
//   ToleratedFailurePercentage
//                   the Map fails with States.ExceedToleratedFailureThreshold when more child executions failed
//   ResultWriter    arn:aws:states:::s3:putObject with Parameters {Bucket, Prefix}: <Prefix>/<map run id>/
//                   SUCCEEDED_0.json, FAILED_0.json and manifest.json, as Step Functions writes them; the Map's
//                   result is then {MapRunArn, ResultWriterDetails: {Bucket, Key}}; without it, the children's outputs
//   ResultPath, Next, End, Catch, Retry, Comment, Label: as for any state (the interpreter applies them)
// Any other field of a Distributed Map (ItemSelector, ItemsPath, ToleratedFailureCount, *Path variants, another
// reader or writer, ReaderConfig, ...) is refused before the execution starts: the runner must not pretend.

import { S3Client, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { randomUUID } from "node:crypto";

export const DISTRIBUTED_MAP = "arn:aws:states:::tributary:distributed-map";
const LIST_OBJECTS = "arn:aws:states:::s3:listObjectsV2";
const PUT_OBJECT = "arn:aws:states:::s3:putObject";
const SUPPORTED = new Set([
  "Type", "Comment", "ItemProcessor", "ItemReader", "ItemBatcher", "MaxConcurrency", "ToleratedFailurePercentage",
  "ResultWriter", "ResultPath", "Next", "End", "Catch", "Retry", "Label",
]);

/** The Distributed Map states of `states` (top level), by name. */
export function distributedMaps(states) {
  return Object.entries(states).filter(
    ([, s]) => s.Type === "Map" && s.ItemProcessor?.ProcessorConfig?.Mode === "DISTRIBUTED",
  );
}

/** Refuses what this emulation does not implement; returns the reason, or null. */
export function unsupported(name, state) {
  for (const field of Object.keys(state)) {
    if (!SUPPORTED.has(field)) return `Distributed Map "${name}" uses ${field}, which the local runner does not implement`;
  }
  const reader = state.ItemReader;
  if (!reader || reader.Resource !== LIST_OBJECTS || reader.ReaderConfig) {
    return `Distributed Map "${name}" must read with ${LIST_OBJECTS} and no ReaderConfig here`;
  }
  for (const field of Object.keys(reader.Parameters ?? {})) {
    if (!["Bucket", "Bucket.$", "Prefix", "Prefix.$"].includes(field)) {
      return `Distributed Map "${name}": ItemReader parameter ${field} is not implemented`;
    }
  }
  for (const field of Object.keys(state.ItemBatcher ?? {})) {
    if (!["MaxItemsPerBatch", "BatchInput"].includes(field)) {
      return `Distributed Map "${name}": ItemBatcher field ${field} is not implemented`;
    }
  }
  const size = state.ItemBatcher?.MaxItemsPerBatch;
  if (state.ItemBatcher && !(Number.isInteger(size) && size >= 1)) {
    return `Distributed Map "${name}": ItemBatcher needs MaxItemsPerBatch of at least 1 here`;
  }
  for (const field of Object.keys(state.ResultWriter?.Parameters ?? {})) {
    if (!["Bucket", "Bucket.$", "Prefix", "Prefix.$"].includes(field)) {
      return `Distributed Map "${name}": ResultWriter parameter ${field} is not implemented`;
    }
  }
  const writer = state.ResultWriter;
  if (writer && (writer.Resource !== PUT_OBJECT || Object.keys(writer).some((f) => !["Resource", "Parameters"].includes(f)))) {
    return `Distributed Map "${name}": only a ResultWriter with ${PUT_OBJECT} and Parameters is implemented`;
  }
  return null;
}

/**
 * The definition with each Distributed Map replaced by a Task state of resource DISTRIBUTED_MAP, whose Parameters
 * carry the reader's, batcher's and writer's templates (the interpreter evaluates their paths against the state's
 * input), and the maps by state name.
 */
export function replaceDistributedMaps(definition) {
  const maps = {};
  const States = { ...definition.States };
  for (const [name, state] of distributedMaps(definition.States)) {
    maps[name] = state;
    const task = {
      Type: "Task",
      Resource: DISTRIBUTED_MAP,
      // A Map state has no timeout of its own (the execution's applies), and a Task's default is 60 s: 23 days,
      // under the longest timer Node can set (about 24.8 days).
      TimeoutSeconds: 2000000,
      Parameters: {
        reader: state.ItemReader.Parameters ?? {},
        batchInput: state.ItemBatcher?.BatchInput ?? {},
        writer: state.ResultWriter?.Parameters ?? null,
      },
    };
    for (const field of ["ResultPath", "Next", "End", "Catch", "Retry", "Comment"]) {
      if (state[field] !== undefined) task[field] = state[field];
    }
    States[name] = task;
  }
  return { definition: { ...definition, States }, maps };
}

class MapError extends Error {
  constructor(name, cause) {
    super(cause);
    this.name = name;
  }
}

async function listAll(s3, bucket, prefix) {
  const items = [];
  let token;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) {
      items.push({
        Key: o.Key,
        Etag: o.ETag,
        LastModified: Math.floor(new Date(o.LastModified).getTime() / 1000),
        Size: o.Size,
        StorageClass: o.StorageClass ?? "STANDARD",
      });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return items;
}

/** Runs `work` on every input, at most `limit` at once; results in input order. */
async function pool(inputs, limit, work) {
  const results = new Array(inputs.length);
  let next = 0;
  const worker = async () => {
    while (next < inputs.length) {
      const i = next++;
      results[i] = await work(inputs[i], i);
    }
  };
  const n = limit > 0 ? Math.min(limit, inputs.length) : inputs.length;
  await Promise.all(Array.from({ length: n }, worker));
  return results;
}

/**
 * The handler of a replaced Distributed Map `name`. `runChild(definition, input, executionArn)` runs one child
 * execution of the ItemProcessor and resolves to {status, output | error+cause}. `stats` collects what the runner
 * reports (children run, failed, the most at once).
 */
export function distributedMapHandler(name, state, job, runChild, stats) {
  const s3 = new S3Client({ forcePathStyle: true });
  return async (params) => {
    const { Bucket: bucket, Prefix: prefix = "" } = params.reader;
    if (!bucket) throw new MapError("States.ItemReaderFailed", "ItemReader has no Bucket");
    let items;
    try {
      items = await listAll(s3, bucket, prefix);
    } catch (e) {
      throw new MapError("States.ItemReaderFailed", String(e.message ?? e));
    }
    const size = state.ItemBatcher?.MaxItemsPerBatch;
    const inputs = [];
    if (state.ItemBatcher) {
      for (let i = 0; i < items.length; i += size ?? items.length) {
        inputs.push({ Items: items.slice(i, i + (size ?? items.length)), BatchInput: params.batchInput });
      }
    } else {
      inputs.push(...items);
    }
    const label = state.Label ?? name;
    const mapRunId = randomUUID();
    const machine = job.executionArn.replace(":execution:", ":mapRun:").split(":").slice(0, -1).join(":");
    const mapRunArn = `${machine}/${label}:${mapRunId}`;
    const child = { StartAt: state.ItemProcessor.StartAt, States: state.ItemProcessor.States };
    let running = 0;
    const started = Date.now();
    const results = await pool(inputs, state.MaxConcurrency ?? 0, async (input, i) => {
      running += 1;
      stats.maxConcurrent = Math.max(stats.maxConcurrent, running);
      const executionArn = `${job.executionArn.replace(":execution:", ":execution:")}/${label}:${i}`;
      const startDate = new Date().toISOString();
      try {
        return { input, executionArn, startDate, ...(await runChild(child, input, executionArn)) };
      } finally {
        running -= 1;
        stats.children += 1;
      }
    });
    const failed = results.filter((r) => r.status !== "SUCCEEDED");
    stats.failed += failed.length;
    stats.ms += Date.now() - started;
    const tolerated = state.ToleratedFailurePercentage ?? 0;
    const overThreshold = inputs.length > 0 && (failed.length * 100) / inputs.length > tolerated;

    let output = results.map((r) => r.output ?? null);
    if (params.writer) {
      const { Bucket: out, Prefix: outPrefix = "" } = params.writer;
      const base = `${outPrefix.replace(/\/$/, "")}/${mapRunId}`;
      const entry = (r) => ({
        ExecutionArn: r.executionArn,
        Input: JSON.stringify(r.input),
        InputDetails: { Included: true },
        Name: r.executionArn.split(":").pop(),
        Status: r.status,
        StartDate: r.startDate,
        StateMachineArn: machine,
        ...(r.status === "SUCCEEDED"
          ? { Output: JSON.stringify(r.output), OutputDetails: { Included: true } }
          : { Error: r.error, Cause: r.cause }),
      });
      const files = { SUCCEEDED: [], FAILED: [], PENDING: [] };
      for (const [status, entries] of [
        ["SUCCEEDED", results.filter((r) => r.status === "SUCCEEDED")],
        ["FAILED", failed],
      ]) {
        if (entries.length === 0) continue;
        const key = `${base}/${status}_0.json`;
        const body = JSON.stringify(entries.map(entry));
        await s3.send(new PutObjectCommand({ Bucket: out, Key: key, Body: body, ContentType: "application/json" }));
        files[status].push({ Key: key, Size: Buffer.byteLength(body) });
      }
      const manifest = { DestinationBucket: out, MapRunArn: mapRunArn, ResultFiles: files };
      const manifestKey = `${base}/manifest.json`;
      await s3.send(
        new PutObjectCommand({ Bucket: out, Key: manifestKey, Body: JSON.stringify(manifest), ContentType: "application/json" }),
      );
      output = { MapRunArn: mapRunArn, ResultWriterDetails: { Bucket: out, Key: manifestKey } };
    }
    if (overThreshold) {
      throw new MapError(
        "States.ExceedToleratedFailureThreshold",
        `${failed.length} of ${inputs.length} child executions failed; ${tolerated}% tolerated`,
      );
    }
    return output;
  };
}
