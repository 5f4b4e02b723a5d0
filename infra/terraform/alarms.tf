# Pipeline notifications (state machine results and alarms) and the alarms that watch the pipeline.

# The topic's own key: CloudWatch alarms cannot publish to a topic encrypted with the AWS managed aws/sns key
# (its key policy cannot be changed to let cloudwatch.amazonaws.com use it), so encryption needs a customer key.
data "aws_iam_policy_document" "notifications_key" {
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

  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "notifications" {
  description             = "${var.name_prefix}: encrypts the pipeline notifications topic"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.notifications_key.json
}

resource "aws_kms_alias" "notifications" {
  name          = "alias/${var.name_prefix}-notifications"
  target_key_id = aws_kms_key.notifications.key_id
}

resource "aws_sns_topic" "notifications" {
  name              = "${var.name_prefix}-pipeline-notifications"
  kms_master_key_id = aws_kms_key.notifications.arn
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.notification_emails)

  topic_arn = aws_sns_topic.notifications.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  alarm_actions = [aws_sns_topic.notifications.arn]
}

# Any failed invocation. For the normalizer that is a batch where every record failed; partial failures are
# retried by the event source mapping and show up as iterator age or in the failure queue.
resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = local.functions

  alarm_name          = "${var.name_prefix}-${each.key}-errors"
  alarm_description   = "${var.name_prefix}-${each.key} returned errors (see its log group)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.fn[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "kinesis_iterator_age" {
  alarm_name          = "${var.name_prefix}-kinesis-normalizer-iterator-age"
  alarm_description   = "kinesis-normalizer is more than ${var.iterator_age_alarm_seconds} s behind ${aws_kinesis_stream.events.name}."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = aws_lambda_function.fn["kinesis-normalizer"].function_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  threshold           = var.iterator_age_alarm_seconds * 1000
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each = {
    "kinesis-failures" = aws_sqs_queue.kinesis_failures.name
    "async-failures"   = aws_sqs_queue.async_failures.name
  }

  alarm_name          = "${var.name_prefix}-${each.key}-not-empty"
  alarm_description   = "Messages are waiting in ${each.value}: failed work to inspect and replay."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

locals {
  state_machines = merge(
    local.warehouse ? { "csv-pipeline" = aws_sfn_state_machine.csv_pipeline[0].arn } : {},
    local.webhook ? { "orders" = aws_sfn_state_machine.orders[0].arn } : {},
  )
}

# The CSV pipeline's alarm was once `count`-based: keep its history through the change to `for_each`.
moved {
  from = aws_cloudwatch_metric_alarm.state_machine_failures[0]
  to   = aws_cloudwatch_metric_alarm.state_machine_failures["csv-pipeline"]
}

resource "aws_cloudwatch_metric_alarm" "state_machine_failures" {
  for_each = local.state_machines

  alarm_name          = "${var.name_prefix}-${each.key}-failures"
  alarm_description   = "${each.key} state machine executions failed, timed out or were aborted."
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "unsuccessful"
    expression  = "FILL(failed, 0) + FILL(timed_out, 0) + FILL(aborted, 0)"
    label       = "Unsuccessful executions"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = { failed = "ExecutionsFailed", timed_out = "ExecutionsTimedOut", aborted = "ExecutionsAborted" }
    content {
      id = metric_query.key

      metric {
        namespace   = "AWS/States"
        metric_name = metric_query.value
        dimensions  = { StateMachineArn = each.value }
        stat        = "Sum"
        period      = 300
      }
    }
  }
}
