# Backfill and replay at scale (statemachine/backfill.asl.json): a STANDARD state machine whose Distributed Map lists
# a prefix (raw/ in the landing bucket, or quarantine/ in the data bucket for a replay), hands csv-to-parquet the
# objects in batches, loads each batch's files with one redshift-loader call, writes every child execution's result
# to backfill-results/, and ends with one summary. Start it with {"prefix": "raw/<dataset>/"} (and "mode":
# "replay" for quarantine/). It needs the loader, so it exists with a warehouse only.

locals {
  # The definition file is valid JSON (checked as it is by asl-validator): its strings are templated, and the map's
  # numbers, which a template would leave unquoted, are set here from var.backfill.
  backfill_template = local.warehouse ? jsondecode(templatefile("${path.module}/statemachine/backfill.asl.json", {
    csv_to_parquet_arn  = aws_lambda_function.fn["csv-to-parquet"].arn
    redshift_loader_arn = aws_lambda_function.fn["redshift-loader"].arn
    landing_bucket      = aws_s3_bucket.landing.id
    data_bucket         = aws_s3_bucket.data.id
    results_prefix      = local.prefixes.backfill_results
  })) : null
  backfill_map = local.warehouse ? local.backfill_template.States.Objects : null
  backfill_definition = local.warehouse ? merge(local.backfill_template, {
    States = merge(local.backfill_template.States, {
      Objects = merge(local.backfill_map, {
        MaxConcurrency             = var.backfill.max_concurrency
        ToleratedFailurePercentage = var.backfill.tolerated_failure_percentage
        ItemBatcher                = merge(local.backfill_map.ItemBatcher, { MaxItemsPerBatch = var.backfill.items_per_batch })
      })
    })
  }) : null

  backfill_name = "${var.name_prefix}-backfill"
  # Built, not read from the state machine, so the role's policy does not depend on the machine it serves.
  backfill_arn       = "arn:${local.partition}:states:${local.region}:${local.account}:stateMachine:${local.backfill_name}"
  backfill_execution = "arn:${local.partition}:states:${local.region}:${local.account}:execution:${local.backfill_name}"
}

resource "aws_cloudwatch_log_group" "backfill" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs' default encryption; execution logs hold failed steps with their input (S3 keys, counts, error text), not row data.
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (default 30): operational logs.
  count = local.warehouse ? 1 : 0

  name              = "/aws/vendedlogs/states/${local.backfill_name}"
  retention_in_days = var.log_retention_days
}

resource "aws_iam_role" "backfill" {
  count = local.warehouse ? 1 : 0

  name               = local.backfill_name
  description        = "Role of the backfill state machine: list the prefix, run its child executions, invoke csv-to-parquet and redshift-loader, write the results"
  assume_role_policy = data.aws_iam_policy_document.states_assume.json
}

data "aws_iam_policy_document" "backfill" {
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

  # The Distributed Map runs each batch as a child execution of this state machine.
  statement {
    sid       = "RunChildExecutions"
    actions   = ["states:StartExecution"]
    resources = [local.backfill_arn]
  }

  statement {
    sid       = "FollowChildExecutions"
    actions   = ["states:DescribeExecution", "states:StopExecution"]
    resources = ["${local.backfill_execution}/*"]
  }

  # The ItemReader lists what a backfill may cover: raw/ in the landing bucket, quarantine/ in the data bucket.
  statement {
    sid       = "ListRawObjects"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.landing.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.prefixes.raw}*"]
    }
  }

  statement {
    sid       = "ListQuarantineObjects"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.data.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.prefixes.quarantine}*"]
    }
  }

  # The ResultWriter's files (a multipart upload for large ones).
  statement {
    sid       = "WriteResults"
    actions   = ["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"]
    resources = ["${aws_s3_bucket.data.arn}/${local.prefixes.backfill_results}*"]
  }
}

resource "aws_iam_role_policy" "backfill" {
  count = local.warehouse ? 1 : 0

  name   = "least-privilege"
  role   = aws_iam_role.backfill[0].id
  policy = data.aws_iam_policy_document.backfill[0].json
}

resource "aws_sfn_state_machine" "backfill" {
  #checkov:skip=CKV_AWS_284:X-Ray is off: the Rust functions carry no X-Ray SDK, so traces would show only service segments; execution history and logs are the record.
  count = local.warehouse ? 1 : 0

  name       = local.backfill_name
  type       = "STANDARD"
  role_arn   = aws_iam_role.backfill[0].arn
  definition = jsonencode(local.backfill_definition)

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.backfill[0].arn}:*"
    include_execution_data = true
    level                  = "ERROR"
  }

  depends_on = [aws_iam_role_policy.backfill]
}
