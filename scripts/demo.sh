#!/usr/bin/env bash
# `make demo`: the pipeline, locally. Starts moto_server (S3) on a free port, seeds it with the sample CSV and
# schema, runs the csv-to-parquet function under `cargo lambda watch`, invokes it with the sample S3 event
# (events/s3-object-created-csv.json) twice -- the second delivery is skipped -- and shows what was written.
# Everything started here is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 "${2:-600}"); do
    if "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  echo "nothing listens on port $1" >&2; return 1
}

pids=()
cleanup() { for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

moto_port=$(free_port)
setsid "$PY" tests/harness/moto_server.py -H 127.0.0.1 -p "$moto_port" >/tmp/tributary-demo-moto.log 2>&1 &
pids+=($!)
wait_port "$moto_port" 60
endpoint="http://127.0.0.1:$moto_port"
echo "moto_server on $endpoint (pid ${pids[0]})"
"$PY" scripts/demo_s3.py "$endpoint" setup

export AWS_ENDPOINT_URL="$endpoint" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_EC2_METADATA_DISABLED=true RUST_LOG=info
invoke_port=$(free_port)
echo "starting cargo lambda watch on 127.0.0.1:$invoke_port (the first run compiles the function)"
setsid cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$invoke_port" --ignore-changes \
  >/tmp/tributary-demo-watch.log 2>&1 &
pids+=($!)
wait_port "$invoke_port" 1200

invoke() {
  cargo lambda invoke csv-to-parquet --invoke-address 127.0.0.1 --invoke-port "$invoke_port" \
    --data-file events/s3-object-created-csv.json --output-format json
}
echo; echo "== first delivery of events/s3-object-created-csv.json"
invoke
echo; echo "== redelivery of the same event (skipped: the output already holds this source ETag)"
invoke
"$PY" scripts/demo_s3.py "$endpoint" show
echo; echo "function logs: /tmp/tributary-demo-watch.log"
