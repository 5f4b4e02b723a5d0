# Purchase orders by webhook: an API Gateway HTTP API (POST /orders) -> order-webhook, which checks each request's
# signature and starts the orders state machine (statemachine/orders.asl.json) -> order-validator -> DynamoDB and
# orders/validated/, or a notification with every reason. Opt-in (order_webhook.enabled): it is a public endpoint,
# and its secret must be given a value before the first delivery.

locals {
  webhook = var.order_webhook.enabled

  orders_machine_name = "${var.name_prefix}-orders"
  # Built rather than read from the state machine: order-webhook's environment needs it, and the state machine
  # needs order-validator, which is created by the same resource as order-webhook.
  orders_machine_arn = "arn:${local.partition}:states:${local.region}:${local.account}:stateMachine:${local.orders_machine_name}"
  orders_executions  = "arn:${local.partition}:states:${local.region}:${local.account}:execution:${local.orders_machine_name}:*"
}

# --- the signing secret ----------------------------------------------------------------------------------------------

# The secret's own key, administered through IAM as AWS's default key policy does: order-webhook's role may decrypt
# with it only through Secrets Manager (iam.tf).
data "aws_iam_policy_document" "webhook_key" {
  #checkov:skip=CKV_AWS_109:A key policy's "*" resource means this key; the account statement delegates to IAM as AWS's default key policy does.
  #checkov:skip=CKV_AWS_111:A key policy's "*" resource means this key; the account statement delegates to IAM as AWS's default key policy does.
  #checkov:skip=CKV_AWS_356:A key policy's "*" resource means this key.
  statement {
    sid       = "AccountAdministersThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account}:root"]
    }
  }
}

resource "aws_kms_key" "webhook" {
  count = local.webhook ? 1 : 0

  description             = "${var.name_prefix}: encrypts the order webhook's signing secret"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.webhook_key.json
}

resource "aws_kms_alias" "webhook" {
  count = local.webhook ? 1 : 0

  name          = "alias/${var.name_prefix}-order-webhook"
  target_key_id = aws_kms_key.webhook[0].key_id
}

resource "aws_secretsmanager_secret" "webhook" {
  #checkov:skip=CKV2_AWS_57:The secret is shared with the sender, so it is rotated with the sender, not by a rotation Lambda: put the new value, and the sender signs with both secrets until it switches (webhook-signature carries several signatures, and any one that matches is accepted).
  count = local.webhook ? 1 : 0

  name                    = "${var.name_prefix}/order-webhook/signing-secret"
  description             = "The order webhook's shared signing secret (whsec_<base64> as Standard Webhooks writes it, or any string). Terraform creates it empty: put its value with `aws secretsmanager put-secret-value`."
  kms_key_id              = aws_kms_key.webhook[0].arn
  recovery_window_in_days = var.secret_recovery_window_days
}

# --- the orders state machine ----------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "orders_machine" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs' default encryption; execution logs hold failed steps with their input (an order and its delivery id).
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (default 30): operational logs.
  count = local.webhook ? 1 : 0

  name              = "/aws/vendedlogs/states/${local.orders_machine_name}"
  retention_in_days = var.log_retention_days
}

resource "aws_iam_role" "orders_machine" {
  count = local.webhook ? 1 : 0

  name               = local.orders_machine_name
  description        = "Role of the orders state machine: invoke order-validator, publish notifications"
  assume_role_policy = data.aws_iam_policy_document.states_assume.json
}

data "aws_iam_policy_document" "orders_machine" {
  source_policy_documents = [data.aws_iam_policy_document.state_machine_common.json]

  statement {
    sid       = "InvokeValidator"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.fn["order-validator"].arn]
  }
}

resource "aws_iam_role_policy" "orders_machine" {
  count = local.webhook ? 1 : 0

  name   = "least-privilege"
  role   = aws_iam_role.orders_machine[0].id
  policy = data.aws_iam_policy_document.orders_machine.json
}

resource "aws_sfn_state_machine" "orders" {
  #checkov:skip=CKV_AWS_284:X-Ray is off: the Rust functions carry no X-Ray SDK, so traces would show only service segments; execution history and logs are the record.
  count = local.webhook ? 1 : 0

  # STANDARD, not EXPRESS: only standard workflows refuse a second execution of one name, which makes a sender's
  # retried delivery one execution.
  name     = local.orders_machine_name
  type     = "STANDARD"
  role_arn = aws_iam_role.orders_machine[0].arn
  definition = templatefile("${path.module}/statemachine/orders.asl.json", {
    order_validator_arn = aws_lambda_function.fn["order-validator"].arn
    topic_arn           = aws_sns_topic.notifications.arn
  })

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.orders_machine[0].arn}:*"
    include_execution_data = true
    level                  = "ERROR"
  }

  depends_on = [aws_iam_role_policy.orders_machine]
}

# --- the HTTP API ----------------------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "webhook_access" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs' default encryption; access logs hold request ids, routes, statuses and source IPs, not bodies.
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (default 30): operational logs.
  count = local.webhook ? 1 : 0

  name              = "/aws/apigateway/${var.name_prefix}-orders-webhook"
  retention_in_days = var.log_retention_days
}

resource "aws_apigatewayv2_api" "webhook" {
  count = local.webhook ? 1 : 0

  name          = "${var.name_prefix}-orders-webhook"
  description   = "Signed purchase-order webhooks: POST /orders"
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "webhook" {
  count = local.webhook ? 1 : 0

  api_id                 = aws_apigatewayv2_api.webhook[0].id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.fn["order-webhook"].invoke_arn
  payload_format_version = "2.0"
  # As long as the function may run (at most 30 s, API Gateway's own limit).
  timeout_milliseconds = var.order_webhook.timeout_seconds * 1000
}

resource "aws_apigatewayv2_route" "webhook" {
  #checkov:skip=CKV_AWS_309:Webhook senders cannot sign with IAM or present a JWT: order-webhook authenticates every request by its HMAC signature and timestamp before anything is stored (401 otherwise).
  count = local.webhook ? 1 : 0

  api_id    = aws_apigatewayv2_api.webhook[0].id
  route_key = "POST /orders"
  target    = "integrations/${aws_apigatewayv2_integration.webhook[0].id}"
}

resource "aws_apigatewayv2_stage" "webhook" {
  count = local.webhook ? 1 : 0

  api_id      = aws_apigatewayv2_api.webhook[0].id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = var.order_webhook.throttle_rate_per_second
    throttling_burst_limit = var.order_webhook.throttle_burst
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.webhook_access[0].arn
    format = jsonencode({
      requestId          = "$context.requestId"
      requestTime        = "$context.requestTime"
      sourceIp           = "$context.identity.sourceIp"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      integrationStatus  = "$context.integrationStatus"
      integrationLatency = "$context.integrationLatency"
      integrationError   = "$context.integrationErrorMessage"
    })
  }
}

resource "aws_lambda_permission" "webhook" {
  count = local.webhook ? 1 : 0

  statement_id  = "AllowOrdersWebhook"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.fn["order-webhook"].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.webhook[0].execution_arn}/*/POST/orders"
}
