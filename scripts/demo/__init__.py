"""`make demo`: the whole Tributary pipeline on this machine, no AWS account needed.

1. Starts the AWS emulator (moto_server through tests/harness/moto_server.py) and a throwaway PostgreSQL, the
   warehouse (through tests/harness/postgres_cluster.sh), each on a free 127.0.0.1 port.
2. Applies infra/terraform to the emulator (the workspace from tests/harness/tf_workspace.py), so buckets, stream,
   tables, topic, state machine, event routing and function settings are the production ones. moto stores the
   functions but cannot run them: they run under `cargo lambda watch`, with the environment Terraform gave each of
   them (plus WAREHOUSE_URL: the loader writes to PostgreSQL instead of calling the Redshift Data API).
3. Feeds seeded sample data and runs every flow through the real function code:
   - CSV: order-line files uploaded under raw/orders/ in the landing bucket; the EventBridge event for each
     (checked against the deployed rule's pattern) starts the deployed state machine definition, executed by
     aws-local-stepfunctions (infra/run-state-machine.mjs): Transform -> quality gate -> Load into PostgreSQL ->
     Notify (SNS). One file fails the quality gate; one event is delivered twice.
   - Kinesis: records put to the stream, read back with GetRecords and delivered as the deployed event source
     mapping would (batch size, partial batch failures, retries, on-failure queue).
   - Orders: purchase orders uploaded to orders/incoming/ in the landing bucket, routed by its notification
     configuration. Every output lands in the data bucket.
4. Prints a report, copies the outputs to target/demo/, and stops everything it started -- also on Ctrl-C or a
   failure, and (through a watchdog) when it is killed. Exits 1 when any flow did not end as expected.

Options: --json FILE writes the report as JSON (the integration test reads it); --stay keeps the emulator and the
functions running after the report, until Ctrl-C, for `cargo lambda invoke` by hand.
Needs: the project venv (boto3, moto, cargo-lambda), infra/node_modules, terraform, PostgreSQL, cargo.

Run as `python scripts/demo [--json FILE] [--stay]` from anywhere. The modules, one job each:
  __main__.py     the command line
  settings.py     the fixed names: repository root, region, name prefix, landing and data buckets, functions
  supervisor.py   the processes the demo starts and stops, commands, ports, its log and timings
  stack.py        the local stack: moto_server, PostgreSQL, terraform apply, cargo lambda watch
  lambda_api.py   the Lambda Invoke API
  emulation.py    what AWS would do that the emulator does not: S3 notifications, EventBridge rules, the Kinesis
                  event source mapping (pure; test_emulation.py)
  data.py         the seeded sample data
  flows.py        the flows, their expectations and what is read back
  report.py       the printed report
"""
