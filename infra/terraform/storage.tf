# The data bucket: every output of the pipeline, one prefix per stage (local.prefixes, less the raw inputs, which
# are in the landing bucket: landing.tf), and the TLS-only bucket policy every bucket of the module shares. The
# pipeline overwrites its outputs on redelivery and lifecycle expires their old versions, so this bucket has no
# Object Lock; and, since no function is triggered by an output, no notification configuration.

resource "aws_s3_bucket" "data" {
  #checkov:skip=CKV_AWS_144:Outputs are derived data, rebuilt from the raw inputs (which the landing bucket's replication copies once var.replication names a region; off by default); only curated/ is worth a replica, and only when var.replication.curated asks for it (replication.tf).
  #checkov:skip=CKV2_AWS_62:No notification: nothing is triggered by an output (no function writes where it is triggered); the S3 triggers are on the landing bucket (landing.tf).
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

# Every bucket of the module (this one, the landing bucket and the replicas) denies requests without TLS 1.2 or later.
data "aws_iam_policy_document" "tls_only" {
  for_each = local.tls_only_buckets

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value, "${each.value}/*"]

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
    sid       = "DenyOutdatedTls"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value, "${each.value}/*"]

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

locals {
  # The buckets by role; the keys are known at plan time, the ARNs after apply.
  tls_only_buckets = merge(
    { data = aws_s3_bucket.data.arn, landing = aws_s3_bucket.landing.arn },
    { for name, bucket in aws_s3_bucket.replica : "${name}_replica" => bucket.arn },
  )
}

resource "aws_s3_bucket_policy" "data" {
  bucket = aws_s3_bucket.data.id
  policy = data.aws_iam_policy_document.tls_only["data"].json

  # A bucket policy is refused while the public access block is being changed.
  depends_on = [aws_s3_bucket_public_access_block.data]
}

# The data bucket's layout as folder markers, so the prefixes are visible (and documented) in the console. None of
# these keys matches a trigger (the triggers are on the landing bucket). The landing bucket has none: see landing.tf.
resource "aws_s3_object" "prefix" {
  for_each = toset([for name, prefix in local.prefixes : prefix if !contains(local.landing_prefixes, name)])

  bucket       = aws_s3_bucket.data.id
  key          = each.value
  content      = ""
  content_type = "application/x-directory"

  depends_on = [aws_s3_bucket_server_side_encryption_configuration.data, aws_s3_bucket_versioning.data]
}
