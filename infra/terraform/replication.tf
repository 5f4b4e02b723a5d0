# Cross-region replication, one variable away: with var.replication = { region = ... }, a replica of the landing
# bucket in that region (always: the raw inputs are what cannot be rebuilt), and with curated = true a replica of the
# data bucket's curated/ prefix. Each rule has S3 Replication Time Control (99.99 % of objects within 15 minutes)
# and replication metrics. Nothing here exists when var.replication is null.
#
# Delete markers are not replicated (delete_marker_replication Disabled): a DELETE without a version id in a source
# bucket, by mistake or by an attacker, leaves the replica's current version readable, so the replica is still a
# complete copy to recover from. Deleting a specific version is never replicated by S3 anyway. Hence the role has no
# s3:ReplicateDelete. Objects written before replication was turned on are not replicated: S3 Batch Replication
# copies them (README: Raw data that cannot be lost).

locals {
  replication       = var.replication != null
  replicate_curated = try(var.replication.curated, false)
  replica_region    = try(var.replication.region, local.region)

  # The replicas by the source they copy: source bucket, the prefix replicated ("" is the whole bucket) and whether
  # the replica needs Object Lock (S3 replicates locked objects only into a bucket with Object Lock enabled).
  replicas = merge(
    local.replication ? {
      landing = {
        name        = "${var.name_prefix}-landing-${local.account}-${local.replica_region}"
        source_arn  = aws_s3_bucket.landing.arn
        prefix      = ""
        object_lock = true
      }
    } : {},
    local.replicate_curated ? {
      curated = {
        name        = "${var.name_prefix}-curated-${local.account}-${local.replica_region}"
        source_arn  = aws_s3_bucket.data.arn
        prefix      = local.prefixes.curated
        object_lock = false
      }
    } : {},
  )
}

# --- the replica buckets, in var.replication.region -----------------------------------------------------------------

resource "aws_s3_bucket" "replica" {
  #checkov:skip=CKV_AWS_144:This is the cross-region replica; replicating it again would be a third copy.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES-256), as its source bucket (storage.tf says why).
  #checkov:skip=CKV2_AWS_62:A replica triggers nothing: the pipeline reacts to the source bucket only.
  #checkov:skip=CKV_AWS_18:S3 delivers server access logs only to a bucket in the same region, and var.access_log_bucket is in the primary region; CloudTrail S3 data events are the alternative audit trail.
  for_each = local.replicas
  provider = aws.replica

  bucket              = each.value.name
  force_destroy       = var.force_destroy
  object_lock_enabled = each.value.object_lock
}

resource "aws_s3_bucket_ownership_controls" "replica" {
  for_each = local.replicas
  provider = aws.replica

  bucket = aws_s3_bucket.replica[each.key].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "replica" {
  for_each = local.replicas
  provider = aws.replica

  bucket                  = aws_s3_bucket.replica[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "replica" {
  for_each = local.replicas
  provider = aws.replica

  bucket = aws_s3_bucket.replica[each.key].id

  versioning_configuration {
    status = "Enabled"
  }
}

# The landing replica keeps the source's default retention. Replicated versions carry their own retain-until date
# from the source, so this applies to anything written to the replica directly, such as a copy made in a recovery.
resource "aws_s3_bucket_object_lock_configuration" "replica" {
  for_each = { for name, replica in local.replicas : name => replica if replica.object_lock }
  provider = aws.replica

  bucket = aws_s3_bucket.replica[each.key].id

  rule {
    default_retention {
      mode = var.raw_object_lock.mode
      days = var.raw_object_lock.days
    }
  }

  depends_on = [aws_s3_bucket_versioning.replica]
}

resource "aws_s3_bucket_server_side_encryption_configuration" "replica" {
  for_each = local.replicas
  provider = aws.replica

  bucket = aws_s3_bucket.replica[each.key].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_policy" "replica" {
  for_each = local.replicas
  provider = aws.replica

  bucket = aws_s3_bucket.replica[each.key].id
  policy = data.aws_iam_policy_document.tls_only["${each.key}_replica"].json

  depends_on = [aws_s3_bucket_public_access_block.replica]
}

# As in the source: raw inputs to Glacier after raw_glacier_after_days (curated stays in its storage class), and
# noncurrent versions expire after noncurrent_version_expiration_days, which landing.tf keeps at least the retention.
resource "aws_s3_bucket_lifecycle_configuration" "replica" {
  for_each = local.replicas
  provider = aws.replica

  bucket = aws_s3_bucket.replica[each.key].id

  dynamic "rule" {
    for_each = each.key == "landing" ? local.landing_prefixes : []
    content {
      id     = "${replace(trimsuffix(local.prefixes[rule.value], "/"), "/", "-")}-to-glacier"
      status = "Enabled"

      filter {
        prefix = local.prefixes[rule.value]
      }

      transition {
        days          = var.raw_glacier_after_days
        storage_class = "GLACIER"
      }
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

    expiration {
      expired_object_delete_marker = true
    }
  }

  depends_on = [aws_s3_bucket_versioning.replica]
}

# --- the replication role ---------------------------------------------------------------------------------------

data "aws_iam_policy_document" "replication_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "replication" {
  count = local.replication ? 1 : 0

  name               = "${var.name_prefix}-s3-replication"
  description        = "Assumed by S3 to replicate the landing bucket (and curated/, if asked) to ${local.replica_region}"
  assume_role_policy = data.aws_iam_policy_document.replication_assume.json
}

# What S3 replication needs, on exactly the replicated objects: read the configuration and list the sources, read
# each source version with its ACL, tags, retention and legal hold (Object Lock replication needs the last two), and
# write replicas with their tags. No s3:ReplicateDelete (delete markers are not replicated, above), and no
# s3:ObjectOwnerOverrideToBucketOwner (same account, and the replicas enforce bucket-owner ownership anyway).
data "aws_iam_policy_document" "replication" {
  count = local.replication ? 1 : 0

  statement {
    sid       = "ReadReplicationConfiguration"
    actions   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    resources = distinct([for replica in values(local.replicas) : replica.source_arn])
  }

  statement {
    sid = "ReadSourceVersions"
    actions = [
      "s3:GetObjectVersionForReplication",
      "s3:GetObjectVersionAcl",
      "s3:GetObjectVersionTagging",
      "s3:GetObjectRetention",
      "s3:GetObjectLegalHold",
    ]
    resources = [for replica in values(local.replicas) : "${replica.source_arn}/${replica.prefix}*"]
  }

  statement {
    sid       = "WriteReplicas"
    actions   = ["s3:ReplicateObject", "s3:ReplicateTags"]
    resources = [for name, replica in local.replicas : "${aws_s3_bucket.replica[name].arn}/${replica.prefix}*"]
  }
}

resource "aws_iam_role_policy" "replication" {
  count = local.replication ? 1 : 0

  name   = "least-privilege"
  role   = aws_iam_role.replication[0].id
  policy = data.aws_iam_policy_document.replication[0].json
}

# --- the replication rules ----------------------------------------------------------------------------------------

# The landing bucket, whole: raw/ and orders/incoming/ are all it holds.
resource "aws_s3_bucket_replication_configuration" "landing" {
  count = local.replication ? 1 : 0

  bucket = aws_s3_bucket.landing.id
  role   = aws_iam_role.replication[0].arn

  rule {
    id     = "raw-inputs"
    status = "Enabled"
    # Filter-based (V2) rules are what Replication Time Control requires; an empty filter is the whole bucket.
    priority = 1

    filter {}

    delete_marker_replication {
      status = "Disabled"
    }

    destination {
      bucket        = aws_s3_bucket.replica["landing"].arn
      storage_class = var.replication.storage_class

      replication_time {
        status = "Enabled"
        time {
          minutes = 15
        }
      }

      metrics {
        status = "Enabled"
        event_threshold {
          minutes = 15
        }
      }
    }
  }

  # Replication needs versioning on both sides and the role's policy in place.
  depends_on = [
    aws_s3_bucket_versioning.landing,
    aws_s3_bucket_versioning.replica,
    aws_s3_bucket_object_lock_configuration.replica,
    aws_iam_role_policy.replication,
  ]
}

# The data bucket's curated/ prefix, when var.replication.curated; its other outputs are rebuilt from the raw inputs.
resource "aws_s3_bucket_replication_configuration" "curated" {
  count = local.replicate_curated ? 1 : 0

  bucket = aws_s3_bucket.data.id
  role   = aws_iam_role.replication[0].arn

  rule {
    id       = "curated"
    status   = "Enabled"
    priority = 1

    filter {
      prefix = local.prefixes.curated
    }

    delete_marker_replication {
      status = "Disabled"
    }

    destination {
      bucket        = aws_s3_bucket.replica["curated"].arn
      storage_class = var.replication.storage_class

      replication_time {
        status = "Enabled"
        time {
          minutes = 15
        }
      }

      metrics {
        status = "Enabled"
        event_threshold {
          minutes = 15
        }
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.data, aws_s3_bucket_versioning.replica, aws_iam_role_policy.replication]
}
