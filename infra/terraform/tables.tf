# DynamoDB: the events' latest state per entity, the stream's dedup window, and accepted orders for deduplication.

resource "aws_dynamodb_table" "latest" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed key (aws/dynamodb); a customer managed key adds cost and key administration without narrowing who can read the table, which IAM already limits.
  name                        = "${var.name_prefix}-events-latest"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "entity_id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "entity_id"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

# kinesis-normalizer's dedup window: one item per event id, claimed by the record that carries it, kept for
# stream_dedup_window_seconds (TTL on expires_at; the condition checks expires_at, so a lapsed claim stops counting
# at once and DynamoDB removes it later).
resource "aws_dynamodb_table" "events_seen" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed key (aws/dynamodb); a customer managed key adds cost and key administration without narrowing who can read the table, which IAM already limits.
  #checkov:skip=CKV_AWS_28:Point-in-time recovery is off: the table holds only event ids that expire within the dedup window, rebuilt by the traffic itself; restoring it would restore nothing of value.
  name                        = "${var.name_prefix}-events-seen"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "event_id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "event_id"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  server_side_encryption {
    enabled = true
  }
}

resource "aws_dynamodb_table" "orders" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed key (aws/dynamodb); a customer managed key adds cost and key administration without narrowing who can read the table, which IAM already limits.
  name                        = "${var.name_prefix}-orders"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "order_id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "order_id"
    type = "S"
  }

  # order-validator writes expires_at = validation time + DEDUP_WINDOW_SECS; expired items stop blocking a resend
  # at once (the condition checks expires_at) and DynamoDB removes them later.
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}
