# One role per function, each with exactly the actions it calls on exactly the resources and prefixes it uses, plus
# the state machine's, EventBridge's and Redshift COPY's roles (the S3 replication role is in replication.tf).
#
# The landing bucket (raw/, orders/incoming/) is read-only to every role: no s3:PutObject, s3:DeleteObject*,
# s3:PutObjectRetention, s3:PutObjectLegalHold or s3:BypassGovernanceRetention there. Producers upload with their
# own credentials.
#
# A note on s3:ListBucket: S3 answers a GET/HEAD of a missing key with 403 instead of 404 unless the caller may list
# the bucket. csv-to-parquet (a raw object gone before its event was handled, optional schemas/<dataset>.json, the
# existing-output check under curated/) and order-validator (an incoming order gone, the validated/ copy restored
# after a crash) treat "missing" as a normal answer, so they need it on both buckets; it reveals key names, not
# contents.

locals {
  bucket_arn  = aws_s3_bucket.data.arn
  landing_arn = aws_s3_bucket.landing.arn
  # Each prefix's objects, in the bucket that holds the prefix.
  objects = { for name, prefix in local.prefixes :
    name => "${contains(local.landing_prefixes, name) ? local.landing_arn : local.bucket_arn}/${prefix}*"
  }
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "fn" {
  for_each = local.functions

  name               = "${var.name_prefix}-${each.key}"
  description        = "Execution role of ${var.name_prefix}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

resource "aws_iam_role_policy" "fn" {
  for_each = local.functions

  name = "least-privilege"
  role = aws_iam_role.fn[each.key].id
  policy = {
    "csv-to-parquet"     = data.aws_iam_policy_document.csv_to_parquet.json
    "kinesis-normalizer" = data.aws_iam_policy_document.kinesis_normalizer.json
    "order-validator"    = data.aws_iam_policy_document.order_validator.json
    "redshift-loader"    = one(data.aws_iam_policy_document.redshift_loader[*].json)
    "order-webhook"      = one(data.aws_iam_policy_document.order_webhook[*].json)
  }[each.key]
}

# --- csv-to-parquet ------------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "csv_to_parquet" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.fn["csv-to-parquet"].arn}:*"]
  }

  statement {
    sid     = "ReadSourcesSchemasAndExistingOutput"
    actions = ["s3:GetObject"]
    # raw/ in the landing bucket; curated/: the HEAD that skips a source version already converted (HeadObject is
    # authorised as GetObject); quarantine/: what a replay reads.
    resources = [local.objects.raw, local.objects.schemas, local.objects.curated, local.objects.quarantine]
  }

  statement {
    sid       = "WriteCuratedAndQuarantine"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = [local.objects.curated, local.objects.quarantine]
  }

  # A backfill's summary: the Distributed Map's result files are read, and summary.json is written beside them.
  statement {
    sid       = "SummarizeBackfills"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [local.objects.backfill_results]
  }

  statement {
    sid       = "MissingIsNotFound"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn, local.landing_arn]
  }

  statement {
    sid = "RegisterDatasetSchemas"
    # The schema registry: read, create and update the tables of the datasets' database, and nothing else in Glue.
    actions = ["glue:GetTable", "glue:GetTableVersions", "glue:CreateTable", "glue:UpdateTable"]
    resources = [
      "${local.glue_arn}:catalog",
      "${local.glue_arn}:database/${aws_glue_catalog_database.datasets.name}",
      "${local.glue_arn}:table/${aws_glue_catalog_database.datasets.name}/*",
    ]
  }

  dynamic "statement" {
    for_each = local.warehouse ? [] : [aws_sqs_queue.async_failures.arn]
    content {
      sid       = "AsyncDeadLetters"
      actions   = ["sqs:SendMessage"]
      resources = [statement.value]
    }
  }
}

# --- kinesis-normalizer --------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "kinesis_normalizer" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.fn["kinesis-normalizer"].arn}:*"]
  }

  # What the event source mapping needs to poll the stream with a shared-throughput iterator (no enhanced fan-out,
  # so no SubscribeToShard). The stream is encrypted with the AWS managed key, which needs no KMS grant here.
  statement {
    sid = "ReadStream"
    actions = [
      "kinesis:DescribeStream",
      "kinesis:DescribeStreamSummary",
      "kinesis:GetRecords",
      "kinesis:GetShardIterator",
      "kinesis:ListShards",
    ]
    resources = [aws_kinesis_stream.events.arn]
  }

  statement {
    sid       = "WriteEventsAndDeadLetters"
    actions   = ["s3:PutObject"]
    resources = [local.objects.events, local.objects.dead_letter]
  }

  # An event object written in an invocation whose later records failed is removed, because the stream
  # delivers those records again and they would otherwise be stored twice.
  statement {
    sid       = "RemoveEventsOfRedeliveredRecords"
    actions   = ["s3:DeleteObject"]
    resources = [local.objects.events]
  }

  # Latest state, and the dedup window's claims (one conditional write per event).
  statement {
    sid       = "LatestStateAndSeenEvents"
    actions   = ["dynamodb:PutItem"]
    resources = [aws_dynamodb_table.latest.arn, aws_dynamodb_table.events_seen.arn]
  }

  # The event source mapping's on-failure destination is sent with the function's role.
  statement {
    sid       = "FailedBatches"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.kinesis_failures.arn]
  }

  # A redrive ({"redrive": {}}) reads that queue and deletes a message once its range is stored; the records come
  # back from the stream with the grants above.
  statement {
    sid       = "RedriveFailedBatches"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
    resources = [aws_sqs_queue.kinesis_failures.arn]
  }

  # A redrive lists the event objects the mapping's last attempt wrote for a range, so it does not store them twice.
  statement {
    sid       = "ListEvents"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.prefixes.events}*"]
    }
  }
}

# --- order-validator -----------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "order_validator" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.fn["order-validator"].arn}:*"]
  }

  statement {
    sid     = "ReadOrders"
    actions = ["s3:GetObject"]
    # incoming/ in the landing bucket; validated/: the HEAD that restores a result missing after a crash between the
    # table and S3.
    resources = [local.objects.orders_incoming, local.objects.orders_validated]
  }

  statement {
    sid       = "WriteResults"
    actions   = ["s3:PutObject"]
    resources = [local.objects.orders_validated, local.objects.orders_rejected]
  }

  statement {
    sid       = "MissingIsNotFound"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn, local.landing_arn]
  }

  statement {
    sid       = "Dedup"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
    resources = [aws_dynamodb_table.orders.arn]
  }

  statement {
    sid       = "AsyncDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.async_failures.arn]
  }
}

# --- redshift-loader -----------------------------------------------------------------------------------------------

locals {
  redshift_cluster_arn = local.warehouse && try(var.redshift.cluster_id, null) != null ? "arn:${local.partition}:redshift:${local.region}:${local.account}:cluster:${var.redshift.cluster_id}" : null
  # A Serverless workgroup's ARN carries its id, not its name: look it up.
  redshift_workgroup_arn = one(data.aws_redshiftserverless_workgroup.warehouse[*].arn)
}

data "aws_redshiftserverless_workgroup" "warehouse" {
  count = local.warehouse && try(var.redshift.workgroup, null) != null ? 1 : 0

  workgroup_name = var.redshift.workgroup
}

data "aws_iam_policy_document" "redshift_loader" {
  count = local.warehouse ? 1 : 0

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.fn["redshift-loader"].arn}:*"]
  }

  statement {
    sid       = "ListCurated"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.prefixes.curated}*"]
    }
  }

  statement {
    sid       = "ResolveCuratedFiles"
    actions   = ["s3:GetObject"]
    resources = [local.objects.curated]
  }

  statement {
    sid       = "WriteManifests"
    actions   = ["s3:PutObject"]
    resources = [local.objects.manifests]
  }

  statement {
    sid       = "SubmitStatements"
    actions   = ["redshift-data:ExecuteStatement", "redshift-data:BatchExecuteStatement"]
    resources = compact([local.redshift_cluster_arn, local.redshift_workgroup_arn])
  }

  # These calls take a statement id, not a cluster: allowed only for statements this role submitted.
  statement {
    sid       = "FollowOwnStatements"
    actions   = ["redshift-data:DescribeStatement", "redshift-data:GetStatementResult"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "redshift-data:statement-owner-iam-userid"
      values   = ["$${aws:userid}"]
    }
  }

  dynamic "statement" {
    for_each = var.redshift.secret_arn != null ? [var.redshift.secret_arn] : []
    content {
      sid       = "WarehouseSecret"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.redshift.secret_arn == null && var.redshift.cluster_id != null ? [var.redshift.cluster_id] : []
    content {
      sid     = "TemporaryClusterCredentials"
      actions = ["redshift:GetClusterCredentials"]
      resources = [
        "arn:${local.partition}:redshift:${local.region}:${local.account}:dbuser:${statement.value}/${var.redshift.db_user}",
        "arn:${local.partition}:redshift:${local.region}:${local.account}:dbname:${statement.value}/${var.redshift.database}",
      ]
    }
  }

  dynamic "statement" {
    for_each = var.redshift.secret_arn == null && var.redshift.workgroup != null ? [local.redshift_workgroup_arn] : []
    content {
      sid       = "TemporaryServerlessCredentials"
      actions   = ["redshift-serverless:GetCredentials"]
      resources = [statement.value]
    }
  }
}

# --- order-webhook -------------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "order_webhook" {
  count = local.webhook ? 1 : 0

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.fn["order-webhook"].arn}:*"]
  }

  statement {
    sid       = "ReadSigningSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.webhook[0].arn]
  }

  # The secret's key, only as Secrets Manager uses it to decrypt the secret.
  statement {
    sid       = "DecryptSigningSecret"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.webhook[0].arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "StartOrders"
    actions   = ["states:StartExecution"]
    resources = [local.orders_machine_arn]
  }

  # A retried delivery whose execution has ended: its input tells a retry from another body under the same id.
  statement {
    sid       = "ReadOwnExecutions"
    actions   = ["states:DescribeExecution"]
    resources = [local.orders_executions]
  }
}

# --- Redshift COPY role (created unless var.redshift.copy_role_arn names one) ---------------------------------------

locals {
  create_copy_role = local.warehouse && try(var.redshift.copy_role_arn, null) == null
  copy_role_arn    = local.create_copy_role ? one(aws_iam_role.copy[*].arn) : try(var.redshift.copy_role_arn, null)
}

data "aws_iam_policy_document" "copy_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "copy" {
  count = local.create_copy_role ? 1 : 0

  name               = "${var.name_prefix}-redshift-copy"
  description        = "Assumed by Redshift for COPY from curated/ through manifests/; associate it with the cluster or workgroup"
  assume_role_policy = data.aws_iam_policy_document.copy_assume.json
}

data "aws_iam_policy_document" "copy" {
  statement {
    sid       = "ReadCuratedAndManifests"
    actions   = ["s3:GetObject"]
    resources = [local.objects.curated, local.objects.manifests]
  }

  statement {
    sid       = "ListCuratedAndManifests"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.prefixes.curated}*", "${local.prefixes.manifests}*"]
    }
  }
}

resource "aws_iam_role_policy" "copy" {
  count = local.create_copy_role ? 1 : 0

  name   = "copy-from-curated"
  role   = aws_iam_role.copy[0].id
  policy = data.aws_iam_policy_document.copy.json
}
