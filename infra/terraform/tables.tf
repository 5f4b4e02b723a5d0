# DynamoDB: the events' latest state per entity, and accepted orders for deduplication.

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
