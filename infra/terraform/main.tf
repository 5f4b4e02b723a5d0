# Tributary: the whole pipeline. Files by concern: storage.tf (the data bucket: every output, its layout),
# landing.tf (the landing bucket: raw inputs under Object Lock, and the S3 triggers), replication.tf (the optional
# cross-region replicas), functions.tf (the Lambdas and their logs), iam.tf (one least-privilege role per function,
# plus the state machine, EventBridge and COPY roles), streaming.tf (Kinesis, event source mapping, failure queues),
# tables.tf (DynamoDB), orchestration.tf (Step Functions and EventBridge), alarms.tf (SNS and CloudWatch alarms).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name

  bucket_name         = coalesce(var.bucket_name, "${var.name_prefix}-data-${local.account}-${local.region}")
  landing_bucket_name = coalesce(var.landing_bucket_name, "${var.name_prefix}-landing-${local.account}-${local.region}")

  # Which path raw/ CSVs take: the state machine (started by EventBridge) or an S3 notification straight to
  # csv-to-parquet. Exactly one of them exists, so no object is processed twice.
  warehouse = var.warehouse_enabled

  # The layout, in one place: function environment, IAM resources, notification filters, the EventBridge pattern
  # and lifecycle rules all read these. The raw inputs (local.landing_prefixes) are in the landing bucket, every
  # other prefix in the data bucket; every output prefix differs from every trigger prefix, so no function writes
  # where it is triggered.
  prefixes = {
    raw              = "raw/"
    schemas          = "schemas/"
    curated          = "curated/"
    quarantine       = "quarantine/"
    events           = "events/"
    dead_letter      = "dead-letter/kinesis/"
    orders_incoming  = "orders/incoming/"
    orders_validated = "orders/validated/"
    orders_rejected  = "orders/rejected/"
    manifests        = "manifests/"
    backfill_results = "backfill-results/"
    athena_results   = "athena-results/"
  }

  # The prefixes of the landing bucket (landing.tf): what arrives from outside, kept under Object Lock and only ever
  # read by the pipeline.
  landing_prefixes = ["raw", "orders_incoming"]

  # The datasets' Glue database (catalog.tf): Glue and Athena names take `_`, not `-`.
  glue_database = replace("${var.name_prefix}_datasets", "-", "_")
  glue_arn      = "arn:${local.partition}:glue:${local.region}:${local.account}"

  # Suffixes that make a raw/ object a CSV input, for both trigger paths (filters are case-sensitive).
  csv_suffixes = [".csv", ".csv.gz"]

  zip_dir = startswith(var.lambda_zip_dir, "/") ? var.lambda_zip_dir : "${path.module}/${var.lambda_zip_dir}"
}
