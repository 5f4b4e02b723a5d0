# One CloudWatch dashboard for the on-call data engineer: latency percentiles per function and per conversion,
# rows and the rejection ratio per dataset, the stream's dead letters, failed records and iterator age, each state
# machine's executions by outcome, and the webhook's answers. Per-dataset widgets use SEARCH, so a new dataset shows
# up without a change here.

locals {
  dashboard_region = local.region
  lambda_names     = { for name, f in aws_lambda_function.fn : name => f.function_name }

  # Lists of metric rows joined one level deep (concat): flatten() would also flatten each row into its cells.
  percentile_metrics = concat([], [
    for name, fn in local.lambda_names : [
      for stat in ["p50", "p95", "p99"] : ["AWS/Lambda", "Duration", "FunctionName", fn, { stat = stat, label = "${name} ${stat}" }]
    ]
  ]...)

  # Each function's steps from its EMF records (Tributary namespace, per function): the metric rows of one widget.
  steps = {
    "csv-to-parquet"  = ["S3ReadMs", "ConvertMs", "S3UploadMs", "DurationMs"]
    "redshift-loader" = ["S3ReadMs", "CopyMs", "MergeMs", "DurationMs"]
  }
  step_metrics = { for fn, metrics in local.steps : fn => concat([], [
    for m in metrics : [
      for stat in ["p50", "p95", "p99"] : ["Tributary", m, "Function", fn, { stat = stat, label = "${m} ${stat}" }]
    ]
  ]...) }

  dashboard_widgets = concat(
    [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title   = "Lambda duration p50 / p95 / p99 (ms), per function"
          region  = local.dashboard_region
          view    = "timeSeries"
          period  = 300
          metrics = local.percentile_metrics
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title   = "csv-to-parquet steps (ms), p50 / p95 / p99: S3 read, convert, S3 upload, and the whole object"
          region  = local.dashboard_region
          view    = "timeSeries"
          period  = 300
          metrics = local.step_metrics["csv-to-parquet"]
        }
      },
      {
        type = "metric", x = 0, y = 24, width = 12, height = 6
        properties = {
          title   = "redshift-loader steps (ms), p50 / p95 / p99: S3 read (PostgreSQL path), COPY, merge, and the whole load"
          region  = local.dashboard_region
          view    = "timeSeries"
          period  = 300
          metrics = local.step_metrics["redshift-loader"]
        }
      },
      {
        type = "metric", x = 12, y = 24, width = 12, height = 6
        properties = {
          title  = "State machine steps (ms), p50 / p95 / p99: the Lambda tasks (scheduled and run), each execution"
          region = local.dashboard_region
          view   = "timeSeries"
          period = 300
          # The tasks use the optimized lambda:invoke integration, whose metrics are per integration, not per
          # function (each function's own duration is in the first widget): SEARCH finds their dimension values.
          metrics = concat(
            [for stat in ["p50", "p95", "p99"] :
              [{ expression = "SEARCH('{AWS/States,ServiceIntegrationResourceArn} MetricName=\"ServiceIntegrationTime\"', '${stat}', 300)", label = "Lambda tasks ${stat}", id = "tasks_${stat}" }]
            ],
            concat([], [for machine, arn in local.state_machines : [
              for stat in ["p50", "p95", "p99"] :
              ["AWS/States", "ExecutionTime", "StateMachineArn", arn, { stat = stat, label = "${machine} execution ${stat}" }]
            ]]...),
          )
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title  = "Rows in, out and rejected, per dataset"
          region = local.dashboard_region
          view   = "timeSeries"
          period = 3600
          stat   = "Sum"
          metrics = [for m in ["RowsIn", "RowsOut", "RowsRejected"] :
            [{ expression = "SEARCH('{Tributary,Dataset,Function} MetricName=\"${m}\"', 'Sum', 3600)", label = m, id = lower(m) }]
          ]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title  = "Rejection ratio: all datasets, and each in data_alarms (their alarms' threshold: ${var.data_alarms.rejection_ratio})"
          region = local.dashboard_region
          view   = "timeSeries"
          period = 3600
          stat   = "Sum"
          # Metric math divides one series by one series, so each ratio names its dataset.
          metrics = concat(
            [
              ["Tributary", "RowsRejected", "Function", "csv-to-parquet", { id = "rejected", visible = false }],
              ["Tributary", "RowsIn", "Function", "csv-to-parquet", { id = "rows", visible = false }],
              [{ expression = "IF(rows > 0, rejected / rows, 0)", label = "all datasets", id = "ratio" }],
            ],
            concat([], [for i, d in var.data_alarms.datasets : [
              ["Tributary", "RowsRejected", "Function", "csv-to-parquet", "Dataset", d, { id = "rejected${i}", visible = false }],
              ["Tributary", "RowsIn", "Function", "csv-to-parquet", "Dataset", d, { id = "rows${i}", visible = false }],
              [{ expression = "IF(rows${i} > 0, rejected${i} / rows${i}, 0)", label = d, id = "ratio${i}" }],
            ]]...),
          )
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 12, height = 6
        properties = {
          title  = "Stream: dead letters, failed records, duplicates dropped; iterator age (ms, right)"
          region = local.dashboard_region
          view   = "timeSeries"
          period = 300
          metrics = [
            ["Tributary", "DeadLettered", "Function", "kinesis-normalizer", { stat = "Sum" }],
            ["Tributary", "RecordsFailed", "Function", "kinesis-normalizer", { stat = "Sum" }],
            ["Tributary", "DuplicatesDropped", "Function", "kinesis-normalizer", { stat = "Sum" }],
            ["AWS/Lambda", "IteratorAge", "FunctionName", local.lambda_names["kinesis-normalizer"], { stat = "Maximum", yAxis = "right" }],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 12, width = 12, height = 6
        properties = {
          title  = "State machine executions by outcome"
          region = local.dashboard_region
          view   = "timeSeries"
          period = 300
          stat   = "Sum"
          metrics = concat([], [
            for machine, arn in local.state_machines : [
              for outcome in ["ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"] :
              ["AWS/States", outcome, "StateMachineArn", arn, { label = "${machine} ${outcome}" }]
            ]
          ]...)
        }
      },
    ],
    local.webhook ? [
      {
        type = "metric", x = 0, y = 18, width = 12, height = 6
        properties = {
          title  = "Order webhook: deliveries by answer"
          region = local.dashboard_region
          view   = "timeSeries"
          period = 300
          stat   = "Sum"
          metrics = [
            [{ expression = "SEARCH('{Tributary,Function,Outcome} Function=\"order-webhook\" MetricName=\"Deliveries\"', 'Sum', 300)", id = "deliveries" }],
          ]
        }
      },
    ] : [],
  )
}

resource "aws_cloudwatch_dashboard" "pipeline" {
  dashboard_name = "${var.name_prefix}-pipeline"
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
