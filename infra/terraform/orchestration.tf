# With a warehouse: raw/ CSV object-created events go from the landing bucket (landing.tf) to EventBridge, and one
# rule starts the CSV state machine (statemachine/csv_pipeline.asl.json) per object. Nothing here exists when
# warehouse_enabled = false.

locals {
  raw_csv_rule_name = "${var.name_prefix}-raw-csv-created"
  # Built rather than read from the rule, so the dead-letter queue's policy does not wait for the rule.
  raw_csv_rule_arn = "arn:${local.partition}:events:${local.region}:${local.account}:rule/${local.raw_csv_rule_name}"
}

# --- state machine -------------------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "state_machine" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs' default encryption; execution logs hold failed steps with their input (S3 keys, counts, error text), not row data.
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (default 30): operational logs.
  count = local.warehouse ? 1 : 0

  name              = "/aws/vendedlogs/states/${var.name_prefix}-csv-pipeline"
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "states_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "state_machine" {
  count = local.warehouse ? 1 : 0

  name               = "${var.name_prefix}-csv-pipeline"
  description        = "Role of the CSV state machine: invoke csv-to-parquet and redshift-loader, publish notifications"
  assume_role_policy = data.aws_iam_policy_document.states_assume.json
}

# What every state machine's role may do besides invoking its functions: publish notifications and deliver its
# execution logs.
data "aws_iam_policy_document" "state_machine_common" {
  statement {
    sid       = "Notify"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.notifications.arn]
  }

  # The topic is encrypted with its own key.
  statement {
    sid       = "NotifyEncrypted"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.notifications.arn]
  }

  # Step Functions delivers its logs through CloudWatch Logs' log delivery API, which has no resource-level
  # permissions: these actions only accept "*".
  statement {
    sid = "ExecutionLogDelivery"
    actions = [
      "logs:CreateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:DescribeLogGroups",
      "logs:DescribeResourcePolicies",
      "logs:GetLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:UpdateLogDelivery",
    ]
    resources = ["*"]
  }
}

data "aws_iam_policy_document" "state_machine" {
  count = local.warehouse ? 1 : 0

  source_policy_documents = [data.aws_iam_policy_document.state_machine_common.json]

  statement {
    sid     = "InvokeSteps"
    actions = ["lambda:InvokeFunction"]
    resources = [
      aws_lambda_function.fn["csv-to-parquet"].arn,
      aws_lambda_function.fn["redshift-loader"].arn,
    ]
  }
}

resource "aws_iam_role_policy" "state_machine" {
  count = local.warehouse ? 1 : 0

  name   = "least-privilege"
  role   = aws_iam_role.state_machine[0].id
  policy = data.aws_iam_policy_document.state_machine[0].json
}

resource "aws_sfn_state_machine" "csv_pipeline" {
  #checkov:skip=CKV_AWS_284:X-Ray is off: the Rust functions carry no X-Ray SDK, so traces would show only service segments; execution history and logs are the record.
  count = local.warehouse ? 1 : 0

  name     = "${var.name_prefix}-csv-pipeline"
  type     = "STANDARD"
  role_arn = aws_iam_role.state_machine[0].arn
  definition = templatefile("${path.module}/statemachine/csv_pipeline.asl.json", {
    csv_to_parquet_arn  = aws_lambda_function.fn["csv-to-parquet"].arn
    redshift_loader_arn = aws_lambda_function.fn["redshift-loader"].arn
    topic_arn           = aws_sns_topic.notifications.arn
  })

  logging_configuration {
    # Failed steps with their input and error: the S3 event or the summaries, never row data.
    log_destination        = "${aws_cloudwatch_log_group.state_machine[0].arn}:*"
    include_execution_data = true
    level                  = "ERROR"
  }

  depends_on = [aws_iam_role_policy.state_machine]
}

# --- EventBridge: raw/ CSV created -> one execution ----------------------------------------------------------------

resource "aws_cloudwatch_event_rule" "raw_csv" {
  count = local.warehouse ? 1 : 0

  name        = local.raw_csv_rule_name
  description = "raw/ CSV object created in ${local.landing_bucket_name}: start the CSV state machine"
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created"]
    detail = {
      bucket = { name = [aws_s3_bucket.landing.id] }
      object = { key = [for suffix in local.csv_suffixes : { wildcard = "${local.prefixes.raw}*${suffix}" }] }
    }
  })
}

data "aws_iam_policy_document" "events_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "events" {
  count = local.warehouse ? 1 : 0

  name               = "${var.name_prefix}-start-csv-pipeline"
  description        = "EventBridge: start the CSV state machine for raw/ CSV objects"
  assume_role_policy = data.aws_iam_policy_document.events_assume.json
}

data "aws_iam_policy_document" "events" {
  count = local.warehouse ? 1 : 0

  statement {
    sid       = "StartPipeline"
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.csv_pipeline[0].arn]
  }
}

resource "aws_iam_role_policy" "events" {
  count = local.warehouse ? 1 : 0

  name   = "least-privilege"
  role   = aws_iam_role.events[0].id
  policy = data.aws_iam_policy_document.events[0].json
}

resource "aws_cloudwatch_event_target" "raw_csv" {
  count = local.warehouse ? 1 : 0

  rule     = aws_cloudwatch_event_rule.raw_csv[0].name
  arn      = aws_sfn_state_machine.csv_pipeline[0].arn
  role_arn = aws_iam_role.events[0].arn

  # StartExecution is retried for a day; an event that still cannot start a run is kept in the async failures queue.
  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }

  dead_letter_config {
    arn = aws_sqs_queue.async_failures.arn
  }
}
