# The landing bucket: the raw inputs (raw/ and orders/incoming/, local.landing_prefixes) as they arrived, under S3
# Object Lock, and the S3 triggers they start. The pipeline only ever reads here: every output goes to the data
# bucket (storage.tf). Every object version gets the bucket's default retention (var.raw_object_lock): until it ends,
# no one can delete or overwrite that version, in GOVERNANCE mode no one without s3:BypassGovernanceRetention (which
# no role of this module has), in COMPLIANCE mode no one at all. A new upload under the same key is a new version; a
# DELETE without a version id only adds a delete marker; the locked versions stay.
#
# No folder markers here, unlike the data bucket: a marker is an object too, so it would get the default retention,
# and `terraform destroy` (or a changed prefix) could not remove it before the retention ends (COMPLIANCE) or
# without bypassing governance (GOVERNANCE). The prefixes are documented in local.prefixes and the README instead.

resource "aws_s3_bucket" "landing" {
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES-256) rather than SSE-KMS, as for the data bucket (storage.tf says why).
  # CKV_AWS_144 (cross-region replication) is not skipped: aws_s3_bucket_replication_configuration.landing
  # (replication.tf) replicates this whole bucket as soon as var.replication names a region. checkov reads the
  # configuration, not the variables, so it passes whether or not var.replication is set (null by default).
  # Server access logging is opt-in (var.access_log_bucket), as for the data bucket.
  bucket        = local.landing_bucket_name
  force_destroy = var.force_destroy
  # Only at creation: an existing bucket cannot be switched to Object Lock by Terraform.
  object_lock_enabled = true
}

resource "aws_s3_bucket_ownership_controls" "landing" {
  bucket = aws_s3_bucket.landing.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "landing" {
  bucket                  = aws_s3_bucket.landing.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# Object Lock keeps versioning on by itself; declared so that it is visible and checked.
resource "aws_s3_bucket_versioning" "landing" {
  bucket = aws_s3_bucket.landing.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_object_lock_configuration" "landing" {
  bucket = aws_s3_bucket.landing.id

  rule {
    default_retention {
      mode = var.raw_object_lock.mode
      days = var.raw_object_lock.days
    }
  }

  depends_on = [aws_s3_bucket_versioning.landing]
}

resource "aws_s3_bucket_server_side_encryption_configuration" "landing" {
  bucket = aws_s3_bucket.landing.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_logging" "landing" {
  count = var.access_log_bucket == null ? 0 : 1

  bucket        = aws_s3_bucket.landing.id
  target_bucket = var.access_log_bucket
  target_prefix = "s3-access/${local.landing_bucket_name}/"
}

resource "aws_s3_bucket_policy" "landing" {
  bucket = aws_s3_bucket.landing.id
  policy = data.aws_iam_policy_document.tls_only["landing"].json

  # A bucket policy is refused while the public access block is being changed.
  depends_on = [aws_s3_bucket_public_access_block.landing]
}

# Lifecycle that cannot contradict the lock: it moves raw inputs to Glacier (a transition keeps the version and its
# retention) and expires noncurrent versions only after their retention has ended (the precondition), so no rule
# claims to delete what Object Lock keeps. Current versions never expire: raw data is kept.
resource "aws_s3_bucket_lifecycle_configuration" "landing" {
  bucket = aws_s3_bucket.landing.id

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
    id     = "orders-incoming-to-glacier"
    status = "Enabled"

    filter {
      prefix = local.prefixes.orders_incoming
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

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }

    # A delete marker left with no version behind it (every version expired) is removed.
    expiration {
      expired_object_delete_marker = true
    }
  }

  lifecycle {
    precondition {
      condition     = var.noncurrent_version_expiration_days >= var.raw_object_lock.days
      error_message = "noncurrent_version_expiration_days (${var.noncurrent_version_expiration_days}) is shorter than raw_object_lock.days (${var.raw_object_lock.days}): lifecycle cannot expire a version Object Lock still retains, so the landing bucket's rule would promise what S3 does not do. Make it at least the retention."
    }
  }

  # Lifecycle rules are validated against the versioning state.
  depends_on = [aws_s3_bucket_versioning.landing]
}

# The bucket's one notification configuration, which carries every S3 trigger. orders/incoming/*.json always invokes
# order-validator. raw/ CSVs take exactly one path: with a warehouse, the bucket sends its events to EventBridge and
# only the EventBridge rule (orchestration.tf) reacts to raw/; without one, there is no rule and raw/ CSVs invoke
# csv-to-parquet here. Both write their results to the data bucket.
resource "aws_s3_bucket_notification" "landing" {
  bucket      = aws_s3_bucket.landing.id
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
  source_arn     = aws_s3_bucket.landing.arn
  source_account = local.account
}
