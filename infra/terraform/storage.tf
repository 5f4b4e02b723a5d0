# The data bucket: one bucket, one prefix per stage (local.prefixes), and the bucket's single notification
# configuration, which carries every S3 trigger.

resource "aws_s3_bucket" "data" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery decision with its own cost and a second region; versioning with noncurrent-version retention covers overwrites and deletes.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES-256) rather than SSE-KMS: access is governed by the per-prefix IAM policies and the bucket policy, and SSE-KMS would add a KMS request per object plus key grants for every function role and Redshift's COPY role.
  # Server access logging is opt-in (var.access_log_bucket, aws_s3_bucket_logging.data): it needs a separate log
  # bucket; CloudTrail S3 data events are the alternative audit trail.
  bucket        = local.bucket_name
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_ownership_controls" "data" {
  bucket = aws_s3_bucket.data.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "data" {
  bucket                  = aws_s3_bucket.data.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "data" {
  bucket = aws_s3_bucket.data.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  bucket = aws_s3_bucket.data.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_logging" "data" {
  count = var.access_log_bucket == null ? 0 : 1

  bucket        = aws_s3_bucket.data.id
  target_bucket = var.access_log_bucket
  target_prefix = "s3-access/${local.bucket_name}/"
}

resource "aws_s3_bucket_lifecycle_configuration" "data" {
  bucket = aws_s3_bucket.data.id

  rule {
    id     = "raw-to-glacier"
    status = "Enabled"

    filter {
      prefix = local.prefixes.raw
    }

    transition {
      days          = var.raw_glacier_after_days
      storage_class = "GLACIER"
    }
  }

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    # csv-to-parquet aborts its own failed uploads; this catches the ones a timed-out invocation leaves behind.
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }

    expiration {
      expired_object_delete_marker = true
    }
  }

  # Lifecycle rules are validated against the versioning state.
  depends_on = [aws_s3_bucket_versioning.data]
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.data.arn,
      "${aws_s3_bucket.data.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid     = "DenyOutdatedTls"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.data.arn,
      "${aws_s3_bucket.data.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

resource "aws_s3_bucket_policy" "data" {
  bucket = aws_s3_bucket.data.id
  policy = data.aws_iam_policy_document.bucket.json

  # A bucket policy is refused while the public access block is being changed.
  depends_on = [aws_s3_bucket_public_access_block.data]
}

# The layout as folder markers, so the prefixes are visible (and documented) in the console. None of these keys
# matches a trigger: the orders trigger needs a .json suffix and the raw/ triggers a .csv or .csv.gz suffix.
resource "aws_s3_object" "prefix" {
  for_each = toset(values(local.prefixes))

  bucket       = aws_s3_bucket.data.id
  key          = each.value
  content      = ""
  content_type = "application/x-directory"

  depends_on = [aws_s3_bucket_server_side_encryption_configuration.data, aws_s3_bucket_versioning.data]
}

# The bucket's one notification configuration. orders/incoming/*.json always invokes order-validator. raw/ CSVs
# take exactly one path: with a warehouse, the bucket sends its events to EventBridge and only the EventBridge
# rule (orchestration.tf) reacts to raw/; without one, there is no rule and raw/ CSVs invoke csv-to-parquet here.
resource "aws_s3_bucket_notification" "data" {
  bucket      = aws_s3_bucket.data.id
  eventbridge = local.warehouse

  lambda_function {
    id                  = "orders-incoming-to-order-validator"
    lambda_function_arn = aws_lambda_function.fn["order-validator"].arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = local.prefixes.orders_incoming
    filter_suffix       = ".json"
  }

  dynamic "lambda_function" {
    for_each = local.warehouse ? [] : local.csv_suffixes
    content {
      id                  = "raw${replace(lambda_function.value, ".", "-")}-to-csv-to-parquet"
      lambda_function_arn = aws_lambda_function.fn["csv-to-parquet"].arn
      events              = ["s3:ObjectCreated:*"]
      filter_prefix       = local.prefixes.raw
      filter_suffix       = lambda_function.value
    }
  }

  depends_on = [aws_lambda_permission.s3]
}

resource "aws_lambda_permission" "s3" {
  for_each = local.warehouse ? toset(["order-validator"]) : toset(["order-validator", "csv-to-parquet"])

  statement_id   = "AllowS3Invoke"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.fn[each.key].function_name
  principal      = "s3.amazonaws.com"
  source_arn     = aws_s3_bucket.data.arn
  source_account = local.account
}
