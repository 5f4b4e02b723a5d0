# The functions from `make package` (target/lambda/<function>/bootstrap.zip, byte-reproducible), their log
# groups, and where asynchronous invocations that still fail end up.

locals {
  functions = merge(
    {
      "csv-to-parquet" = {
        description = "raw/<dataset>/*.csv[.gz] -> typed Parquet under curated/, bad rows to quarantine/"
        settings    = var.csv_to_parquet
        # Invoked asynchronously by S3 only on the no-warehouse path; the state machine invokes it synchronously.
        async = !local.warehouse
        # Sources are in the landing bucket, which it only reads: every output goes to OUTPUT_BUCKET, the data bucket.
        environment = {
          RAW_PREFIX        = local.prefixes.raw
          CURATED_PREFIX    = local.prefixes.curated
          QUARANTINE_PREFIX = local.prefixes.quarantine
          SCHEMA_PREFIX     = local.prefixes.schemas
          OUTPUT_BUCKET     = aws_s3_bucket.data.id
          MAX_REJECT_RATIO  = tostring(var.max_reject_ratio)
          # The schema registry: one Glue table per dataset (catalog.tf).
          GLUE_DATABASE        = aws_glue_catalog_database.datasets.name
          SCHEMA_EVOLUTION     = var.schema_evolution
          SCHEMA_COMPATIBILITY = var.schema_compatibility
        }
      }
      "kinesis-normalizer" = {
        description = "Kinesis batches -> normalized events under events/ and the latest-state table"
        settings    = var.kinesis_normalizer
        async       = false
        environment = {
          EVENTS_BUCKET      = aws_s3_bucket.data.id
          LATEST_TABLE       = aws_dynamodb_table.latest.name
          SEEN_TABLE         = aws_dynamodb_table.events_seen.name
          DEDUP_WINDOW_SECS  = tostring(var.stream_dedup_window_seconds)
          ENTITY_KEY         = var.entity_key
          EVENTS_PREFIX      = local.prefixes.events
          DEAD_LETTER_PREFIX = local.prefixes.dead_letter
          GZIP               = tostring(var.gzip_events)
          # What {"redrive": {}} reads: the event source mapping's on-failure queue.
          REDRIVE_QUEUE_URL = aws_sqs_queue.kinesis_failures.id
        }
      }
      "order-validator" = {
        description = "orders/incoming/*.json -> validated, deduplicated orders (DynamoDB and orders/validated/)"
        settings    = var.order_validator
        async       = true
        # Incoming orders are in the landing bucket, which it only reads: results go to ORDERS_BUCKET, the data bucket.
        environment = {
          ORDERS_TABLE      = aws_dynamodb_table.orders.name
          ORDERS_BUCKET     = aws_s3_bucket.data.id
          DEDUP_WINDOW_SECS = tostring(var.dedup_window_seconds)
          INCOMING_PREFIX   = local.prefixes.orders_incoming
          VALIDATED_PREFIX  = local.prefixes.orders_validated
          REJECTED_PREFIX   = local.prefixes.orders_rejected
        }
      }
    },
    local.warehouse ? {
      "redshift-loader" = {
        description = "Step Functions task: idempotent COPY-and-merge of curated Parquet into Redshift"
        settings    = var.redshift_loader
        async       = false
        environment = { for k, v in {
          REDSHIFT_DATABASE   = var.redshift.database
          REDSHIFT_CLUSTER_ID = var.redshift.cluster_id
          REDSHIFT_WORKGROUP  = var.redshift.workgroup
          REDSHIFT_SECRET_ARN = var.redshift.secret_arn
          REDSHIFT_DB_USER    = var.redshift.db_user
          COPY_ROLE_ARN       = local.copy_role_arn
          TARGET_TABLE        = var.redshift.target_table
          LOAD_MODE           = var.redshift.load_mode
          MERGE_KEYS          = join(",", var.redshift.merge_keys)
          MANIFEST_BUCKET     = aws_s3_bucket.data.id
          MANIFEST_PREFIX     = local.prefixes.manifests
        } : k => v if v != null && v != "" }
      }
    } : {},
    local.webhook ? {
      "order-webhook" = {
        description = "POST /orders (API Gateway): signed purchase-order webhooks -> one orders state machine execution each"
        settings    = var.order_webhook
        async       = false
        environment = {
          WEBHOOK_SECRET_ARN       = aws_secretsmanager_secret.webhook[0].arn
          ORDERS_STATE_MACHINE_ARN = local.orders_machine_arn
          SIGNATURE_TOLERANCE_SECS = tostring(var.order_webhook.signature_tolerance_seconds)
          MAX_BODY_BYTES           = tostring(var.order_webhook.max_body_bytes)
        }
      }
    } : {},
  )

  zips = { for name in keys(local.functions) : name => "${local.zip_dir}/${name}/bootstrap.zip" }
}

resource "aws_cloudwatch_log_group" "fn" {
  #checkov:skip=CKV_AWS_158:Log groups use CloudWatch Logs' default encryption; the logs carry object keys, counts and error text, not row data.
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (default 30): these are operational logs, and the data itself is versioned in S3.
  for_each = local.functions

  name              = "/aws/lambda/${var.name_prefix}-${each.key}"
  retention_in_days = var.log_retention_days
}

resource "aws_lambda_function" "fn" {
  #checkov:skip=CKV_AWS_117:No VPC: the functions reach only S3, DynamoDB, Kinesis, SQS and the Redshift Data API, all public AWS endpoints authorised by IAM; a VPC would add NAT or endpoints for no access gain.
  #checkov:skip=CKV_AWS_173:The environment holds names and prefixes only, no secrets (Redshift credentials come from Secrets Manager or IAM); Lambda encrypts it at rest with its service key.
  #checkov:skip=CKV_AWS_272:Code signing is not used: the zips are built reproducibly by `make package` and deployed by Terraform from the same checkout.
  #checkov:skip=CKV_AWS_50:X-Ray is off: the Rust functions carry no X-Ray SDK, so traces would show only Lambda's own segment, not the S3 read, conversion, upload or COPY inside it; one correlation id in every log line, object, row and ledger entry, and per-step EMF metrics, are the observability path (README, Operations).
  for_each = local.functions

  function_name    = "${var.name_prefix}-${each.key}"
  description      = each.value.description
  role             = aws_iam_role.fn[each.key].arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = ["arm64"]
  filename         = local.zips[each.key]
  source_code_hash = filebase64sha256(local.zips[each.key])
  memory_size      = each.value.settings.memory_mb
  timeout          = each.value.settings.timeout_seconds

  # Reserved where it protects a downstream (redshift-loader: the warehouse); -1 (unreserved) elsewhere, since the
  # normalizer is bounded by shards x parallelization factor and reserving everywhere eats the account's pool.
  reserved_concurrent_executions = coalesce(each.value.settings.reserved_concurrency, -1)

  environment {
    # The module's settings win over the tuning variables, so the layout always matches the IAM policies.
    variables = merge(each.value.settings.environment, each.value.environment)
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.fn[each.key].name
    application_log_level = var.log_level
    system_log_level      = "WARN"
  }

  # Only asynchronous invocations (S3 notifications) have a dead-letter queue; the state machine and the event source
  # mapping invoke synchronously and handle failures themselves.
  dynamic "dead_letter_config" {
    for_each = each.value.async ? [aws_sqs_queue.async_failures.arn] : []
    content {
      target_arn = dead_letter_config.value
    }
  }

  lifecycle {
    precondition {
      condition     = fileexists(local.zips[each.key])
      error_message = "Missing ${local.zips[each.key]}: run `make package` (or point lambda_zip_dir at the zips)."
    }
  }

  # Lambda checks at creation that the role may write its logs and send to the dead-letter queue.
  depends_on = [aws_iam_role_policy.fn]
}

# Retries of asynchronous invocations (S3 notifications): the default two, then the dead-letter queue.
resource "aws_lambda_function_event_invoke_config" "async" {
  for_each = { for name, f in local.functions : name => f if f.async }

  function_name                = aws_lambda_function.fn[each.key].function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 21600
}
