# --- deployment ----------------------------------------------------------------------------------------------------

variable "region" {
  description = "AWS region for every resource."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must look like us-east-1."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name (functions, roles, tables, stream, queues, state machine). One deployment per prefix and region."
  type        = string
  default     = "tributary"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}$", var.name_prefix))
    error_message = "name_prefix must be 2-24 characters: lower-case letters, digits and '-', starting with a letter."
  }
}

variable "bucket_name" {
  description = "Name of the data bucket. Null: <name_prefix>-data-<account id>-<region>."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null ? true : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name (3-63 characters: lower-case letters, digits, '.', '-')."
  }
}

variable "landing_bucket_name" {
  description = "Name of the landing bucket, which holds the raw inputs (raw/, orders/incoming/) under Object Lock. Null: <name_prefix>-landing-<account id>-<region>."
  type        = string
  default     = null

  validation {
    condition     = var.landing_bucket_name == null ? true : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.landing_bucket_name))
    error_message = "landing_bucket_name must be a valid S3 bucket name (3-63 characters: lower-case letters, digits, '.', '-')."
  }
}

variable "lambda_zip_dir" {
  description = "Directory holding <function>/bootstrap.zip as written by `make package`. A relative path is resolved from this module's directory."
  type        = string
  default     = "../../target/lambda"

  validation {
    condition     = length(trimspace(var.lambda_zip_dir)) > 0
    error_message = "lambda_zip_dir must not be empty."
  }
}

variable "tags" {
  description = "Extra tags for every resource (merged over project = tributary, managed-by = terraform)."
  type        = map(string)
  default     = {}
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the buckets with their objects (in the landing bucket and its replica, GOVERNANCE-locked versions are deleted by bypassing governance, which needs s3:BypassGovernanceRetention; COMPLIANCE-locked ones cannot be deleted before their retention ends). Keep false outside throwaway environments."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "DynamoDB deletion protection on both tables. Must be false for `terraform destroy` to remove them."
  type        = bool
  default     = true
}

# --- functions -----------------------------------------------------------------------------------------------------

variable "csv_to_parquet" {
  description = "csv-to-parquet: memory (MB; CPU grows with it, up to 6 vCPUs at 10,240 MB, and the converter types and encodes on every vCPU it gets), timeout (s), reserved concurrency (null: unreserved) and extra tuning environment (UPLOAD_PART_MB, ROW_GROUP_MB, COMPRESSION, READ_CONCURRENCY, READ_PART_MB, ...; the layout variables are set by this module)."
  type = object({
    memory_mb            = optional(number, 2048)
    timeout_seconds      = optional(number, 900)
    reserved_concurrency = optional(number)
    environment          = optional(map(string), {})
  })
  default = {}

  validation {
    condition     = var.csv_to_parquet.memory_mb >= 128 && var.csv_to_parquet.memory_mb <= 10240 && var.csv_to_parquet.timeout_seconds >= 1 && var.csv_to_parquet.timeout_seconds <= 900
    error_message = "memory_mb must be 128-10240 and timeout_seconds 1-900."
  }
  validation {
    condition     = var.csv_to_parquet.reserved_concurrency == null ? true : var.csv_to_parquet.reserved_concurrency >= 0
    error_message = "reserved_concurrency must be null (unreserved) or >= 0."
  }
}

variable "kinesis_normalizer" {
  description = "kinesis-normalizer: memory (MB), timeout (s), reserved concurrency (null: unreserved; the event source mapping already bounds it to shards x parallelization factor) and extra tuning environment (WRITE_CONCURRENCY, WRITE_ATTEMPTS, MAX_RECORD_BYTES)."
  type = object({
    memory_mb            = optional(number, 512)
    timeout_seconds      = optional(number, 120)
    reserved_concurrency = optional(number)
    environment          = optional(map(string), {})
  })
  default = {}

  validation {
    condition     = var.kinesis_normalizer.memory_mb >= 128 && var.kinesis_normalizer.memory_mb <= 10240 && var.kinesis_normalizer.timeout_seconds >= 1 && var.kinesis_normalizer.timeout_seconds <= 900
    error_message = "memory_mb must be 128-10240 and timeout_seconds 1-900."
  }
  validation {
    condition     = var.kinesis_normalizer.reserved_concurrency == null ? true : var.kinesis_normalizer.reserved_concurrency >= 0
    error_message = "reserved_concurrency must be null (unreserved) or >= 0."
  }
}

variable "order_validator" {
  description = "order-validator: memory (MB), timeout (s), reserved concurrency (null: unreserved) and extra tuning environment (MAX_ORDER_BYTES)."
  type = object({
    memory_mb            = optional(number, 256)
    timeout_seconds      = optional(number, 30)
    reserved_concurrency = optional(number)
    environment          = optional(map(string), {})
  })
  default = {}

  validation {
    condition     = var.order_validator.memory_mb >= 128 && var.order_validator.memory_mb <= 10240 && var.order_validator.timeout_seconds >= 1 && var.order_validator.timeout_seconds <= 900
    error_message = "memory_mb must be 128-10240 and timeout_seconds 1-900."
  }
  validation {
    condition     = var.order_validator.reserved_concurrency == null ? true : var.order_validator.reserved_concurrency >= 0
    error_message = "reserved_concurrency must be null (unreserved) or >= 0."
  }
}

variable "order_webhook" {
  description = "order-webhook and its HTTP API: whether they exist (default false: a public endpoint is opt-in), memory (MB), timeout (s), reserved concurrency (null: unreserved), extra environment (SECRET_CACHE_SECS), the route's throttling, the signature's timestamp tolerance and the largest body (at most 256000 bytes: the body travels in a Step Functions input)."
  type = object({
    enabled                     = optional(bool, false)
    memory_mb                   = optional(number, 256)
    timeout_seconds             = optional(number, 10)
    reserved_concurrency        = optional(number)
    environment                 = optional(map(string), {})
    throttle_rate_per_second    = optional(number, 50)
    throttle_burst              = optional(number, 100)
    signature_tolerance_seconds = optional(number, 300)
    max_body_bytes              = optional(number, 131072)
  })
  default = {}

  validation {
    condition     = var.order_webhook.memory_mb >= 128 && var.order_webhook.memory_mb <= 10240 && var.order_webhook.timeout_seconds >= 1 && var.order_webhook.timeout_seconds <= 30
    error_message = "memory_mb must be 128-10240 and timeout_seconds 1-30 (API Gateway waits 30 s at most)."
  }
  validation {
    condition     = var.order_webhook.max_body_bytes >= 1 && var.order_webhook.max_body_bytes <= 256000 && var.order_webhook.signature_tolerance_seconds >= 1
    error_message = "max_body_bytes must be 1-256000 and signature_tolerance_seconds at least 1."
  }
  validation {
    condition     = var.order_webhook.reserved_concurrency == null ? true : var.order_webhook.reserved_concurrency >= 0
    error_message = "reserved_concurrency must be null (unreserved) or >= 0."
  }
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret (the webhook's signing secret) can be restored; 0 deletes it at once (test stacks)."
  type        = number
  default     = 30
}

variable "redshift_loader" {
  description = "redshift-loader: memory (MB), timeout (s; one invocation polls its statement until shortly before this), reserved concurrency (default 4: protects the warehouse, where each load takes a table lock and COPY slots; the state machine retries throttled invocations with backoff) and extra environment (POLL_SECONDS)."
  type = object({
    memory_mb            = optional(number, 256)
    timeout_seconds      = optional(number, 300)
    reserved_concurrency = optional(number, 4)
    environment          = optional(map(string), {})
  })
  default = {}

  validation {
    condition     = var.redshift_loader.memory_mb >= 128 && var.redshift_loader.memory_mb <= 10240 && var.redshift_loader.timeout_seconds >= 30 && var.redshift_loader.timeout_seconds <= 900
    error_message = "memory_mb must be 128-10240 and timeout_seconds 30-900."
  }
  validation {
    condition     = var.redshift_loader.reserved_concurrency == null ? true : var.redshift_loader.reserved_concurrency >= 1
    error_message = "reserved_concurrency must be null (unreserved) or >= 1 (0 would stop every load)."
  }
}

variable "log_level" {
  description = "Application log level of every function (Lambda's JSON log format sets AWS_LAMBDA_LOG_LEVEL, which the functions honour)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.log_level)
    error_message = "log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL."
  }
}

variable "log_retention_days" {
  description = "Retention of the functions' and the state machine's log groups, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ..., 3653)."
  }
}

# --- data layout and function behaviour ----------------------------------------------------------------------------

variable "schema_evolution" {
  description = "csv-to-parquet: what a file with columns its dataset's registered schema lacks does: add-columns (register the next version with them, nullable) or none (fail with SchemaIncompatible)."
  type        = string
  default     = "add-columns"

  validation {
    condition     = contains(["add-columns", "none"], var.schema_evolution)
    error_message = "schema_evolution must be add-columns or none."
  }
}

variable "schema_compatibility" {
  description = "csv-to-parquet: the compatibility mode a new dataset is registered with (BACKWARD, FULL or NONE); an existing dataset keeps its own."
  type        = string
  default     = "BACKWARD"

  validation {
    condition     = contains(["BACKWARD", "FULL", "NONE"], var.schema_compatibility)
    error_message = "schema_compatibility must be BACKWARD, FULL or NONE."
  }
}

variable "max_reject_ratio" {
  description = "csv-to-parquet's quality gate: above this share of rejected rows no curated output is written and the file fails with QualityGateFailed."
  type        = number
  default     = 0.02

  validation {
    condition     = var.max_reject_ratio >= 0 && var.max_reject_ratio <= 1
    error_message = "max_reject_ratio must be between 0 and 1."
  }
}

variable "dedup_window_seconds" {
  description = "order-validator: how long an accepted order_id blocks a second copy (also the orders table's TTL horizon)."
  type        = number
  default     = 3600

  validation {
    condition     = var.dedup_window_seconds >= 0 && floor(var.dedup_window_seconds) == var.dedup_window_seconds
    error_message = "dedup_window_seconds must be a whole number >= 0."
  }
}

variable "data_alarms" {
  description = "Alarms on the data, to the notifications topic: for each dataset in datasets (raw/<dataset>/), its rejection ratio over an hour above rejection_ratio, no curated file for freshness_hours, and rows out outside an anomaly band volume_band_width standard deviations wide. The stream's dead letters and failed records alarm whatever this says."
  type = object({
    datasets          = optional(list(string), [])
    rejection_ratio   = optional(number, 0.01)
    freshness_hours   = optional(number, 24)
    volume_band_width = optional(number, 2)
  })
  default = {}

  validation {
    condition     = var.data_alarms.rejection_ratio > 0 && var.data_alarms.rejection_ratio < 1 && var.data_alarms.freshness_hours >= 1 && var.data_alarms.freshness_hours <= 168 && floor(var.data_alarms.freshness_hours) == var.data_alarms.freshness_hours && var.data_alarms.volume_band_width > 0
    error_message = "rejection_ratio must be in (0, 1), freshness_hours a whole number 1-168 (CloudWatch evaluates at most 7 days of hourly periods) and volume_band_width > 0."
  }
  validation {
    condition     = alltrue([for d in var.data_alarms.datasets : can(regex("^[a-z0-9][a-z0-9_-]*$", d))])
    error_message = "datasets are raw/<dataset>/ folder names: lower-case letters, digits, - and _."
  }
}

variable "stream_dedup_window_seconds" {
  description = "kinesis-normalizer: how long an event_id blocks another record with the same id, across batches and shards (one conditional DynamoDB write per event; 0 turns it off, leaving dedup within each batch)."
  type        = number
  default     = 3600

  validation {
    condition     = var.stream_dedup_window_seconds >= 0 && floor(var.stream_dedup_window_seconds) == var.stream_dedup_window_seconds
    error_message = "stream_dedup_window_seconds must be a whole number >= 0."
  }
}

variable "entity_key" {
  description = "kinesis-normalizer: the event field naming the entity whose latest state is kept in the events table."
  type        = string
  default     = "event_id"

  validation {
    condition     = can(regex("^[a-z0-9_]+$", var.entity_key))
    error_message = "entity_key must be a snake_case field name (events are normalised to snake_case keys)."
  }
}

variable "gzip_events" {
  description = "kinesis-normalizer: write events/ objects as .jsonl.gz instead of .jsonl."
  type        = bool
  default     = false
}

variable "raw_glacier_after_days" {
  description = "Days after which the raw inputs (raw/ and orders/incoming/ in the landing bucket) move to S3 Glacier Flexible Retrieval."
  type        = number
  default     = 90

  validation {
    condition     = var.raw_glacier_after_days >= 1
    error_message = "raw_glacier_after_days must be >= 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten or deleted object versions are removed, in every bucket. In the landing bucket a version is kept at least as long as raw_object_lock.days, so this must not be shorter (a precondition refuses it)."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be >= 1."
  }
}

variable "access_log_bucket" {
  description = "Existing bucket that receives S3 server access logs for the data and landing buckets (prefix s3-access/<bucket>/). Null: no server access logging."
  type        = string
  default     = null
}

# --- raw data that cannot be lost ----------------------------------------------------------------------------------

variable "raw_object_lock" {
  description = "Object Lock default retention of the landing bucket (and its replica): every raw input version is kept this many days from its upload. GOVERNANCE: deletable before then only by a principal with s3:BypassGovernanceRetention that asks for the bypass; COMPLIANCE: by no one, the root user included. A change applies to new versions only: each version keeps the retain-until date it was written with."
  type = object({
    mode = optional(string, "GOVERNANCE")
    days = optional(number, 30)
  })
  default = {}

  validation {
    condition     = contains(["GOVERNANCE", "COMPLIANCE"], var.raw_object_lock.mode)
    error_message = "raw_object_lock.mode must be GOVERNANCE or COMPLIANCE."
  }
  validation {
    condition     = var.raw_object_lock.days >= 1 && var.raw_object_lock.days <= 36500 && floor(var.raw_object_lock.days) == var.raw_object_lock.days
    error_message = "raw_object_lock.days must be a whole number of days, 1-36500."
  }
}

variable "replication" {
  description = "Cross-region replication (replication.tf). Null: none. Set: a replica of the landing bucket in region (storage_class for the replicas: STANDARD, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR, GLACIER or DEEP_ARCHIVE), and with curated = true a replica of the data bucket's curated/ prefix, each with Replication Time Control (15 minutes) and replication metrics."
  type = object({
    region        = string
    storage_class = optional(string, "STANDARD")
    curated       = optional(bool, false)
  })
  default = null

  validation {
    condition     = var.replication == null ? true : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.replication.region)) && var.replication.region != var.region
    error_message = "replication.region must look like eu-west-1 and differ from region (a replica in the same region survives no regional outage)."
  }
  validation {
    condition     = var.replication == null ? true : contains(["STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"], var.replication.storage_class)
    error_message = "replication.storage_class must be STANDARD, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR, GLACIER or DEEP_ARCHIVE."
  }
}

# --- Kinesis -------------------------------------------------------------------------------------------------------

variable "kinesis" {
  description = "The events stream and its event source mapping: capacity mode, shards (PROVISIONED only), retention, batching, parallelisation, and how long a failing batch is retried (bisected on each error) before its records go to the failure queue."
  type = object({
    stream_mode             = optional(string, "ON_DEMAND")
    shard_count             = optional(number, 1)
    retention_hours         = optional(number, 24)
    batch_size              = optional(number, 500)
    batching_window_seconds = optional(number, 5)
    parallelization_factor  = optional(number, 1)
    max_retry_attempts      = optional(number, 5)
    max_record_age_seconds  = optional(number, 3600)
  })
  default = {}

  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.kinesis.stream_mode)
    error_message = "kinesis.stream_mode must be ON_DEMAND or PROVISIONED."
  }
  validation {
    condition     = var.kinesis.shard_count >= 1 && var.kinesis.retention_hours >= 24 && var.kinesis.retention_hours <= 8760
    error_message = "kinesis.shard_count must be >= 1 and retention_hours 24-8760."
  }
  validation {
    condition     = var.kinesis.batch_size >= 1 && var.kinesis.batch_size <= 10000 && var.kinesis.batching_window_seconds >= 0 && var.kinesis.batching_window_seconds <= 300 && var.kinesis.parallelization_factor >= 1 && var.kinesis.parallelization_factor <= 10
    error_message = "kinesis.batch_size must be 1-10000, batching_window_seconds 0-300, parallelization_factor 1-10."
  }
  validation {
    # Bounded on purpose: -1 (infinite) would let one poison batch block its shard until the records expire.
    condition     = var.kinesis.max_retry_attempts >= 0 && var.kinesis.max_retry_attempts <= 10000 && var.kinesis.max_record_age_seconds >= 60 && var.kinesis.max_record_age_seconds <= 604800
    error_message = "kinesis.max_retry_attempts must be 0-10000 and max_record_age_seconds 60-604800 (unbounded retries are not allowed)."
  }
}

# --- warehouse -----------------------------------------------------------------------------------------------------

variable "warehouse_enabled" {
  description = "true: raw/ CSVs go through the Step Functions state machine (csv-to-parquet, quality gate, redshift-loader, notification), started by EventBridge. false: no warehouse; raw/ CSVs are wired straight to csv-to-parquet with an S3 notification, and the loader, state machine and EventBridge rule are not created. Exactly one path exists either way."
  type        = bool
  default     = true
}

variable "redshift" {
  description = "The warehouse the loader writes to (required when warehouse_enabled). Exactly one of cluster_id (provisioned, with secret_arn or db_user) and workgroup (Serverless, optionally with secret_arn). copy_role_arn: a role already associated with the cluster or workgroup for COPY; null creates one (output copy_role_arn) that you then associate. target_table may hold {dataset}."
  type = object({
    database      = string
    cluster_id    = optional(string)
    workgroup     = optional(string)
    secret_arn    = optional(string)
    db_user       = optional(string)
    copy_role_arn = optional(string)
    target_table  = optional(string, "analytics.{dataset}")
    load_mode     = optional(string, "append")
    merge_keys    = optional(list(string), [])
  })
  default = null

  validation {
    condition     = var.redshift != null || !var.warehouse_enabled
    error_message = "redshift must be set when warehouse_enabled is true (or set warehouse_enabled = false)."
  }
  validation {
    condition     = var.redshift == null ? true : (var.redshift.cluster_id == null) != (var.redshift.workgroup == null)
    error_message = "Set exactly one of redshift.cluster_id and redshift.workgroup."
  }
  validation {
    condition     = var.redshift == null ? true : (var.redshift.cluster_id == null || var.redshift.secret_arn != null || var.redshift.db_user != null)
    error_message = "A provisioned cluster needs redshift.secret_arn or redshift.db_user."
  }
  validation {
    condition     = var.redshift == null ? true : contains(["append", "merge", "replace"], var.redshift.load_mode)
    error_message = "redshift.load_mode must be append, merge or replace."
  }
  validation {
    condition     = var.redshift == null ? true : (var.redshift.load_mode != "merge" || length(var.redshift.merge_keys) > 0)
    error_message = "redshift.load_mode = merge needs redshift.merge_keys."
  }
  validation {
    condition     = var.redshift == null ? true : can(regex("^[A-Za-z_][A-Za-z0-9_]*\\.([A-Za-z_][A-Za-z0-9_]*|\\{dataset\\})$", var.redshift.target_table))
    error_message = "redshift.target_table must be schema.table, where table may be {dataset}."
  }
}

# --- notifications and alarms --------------------------------------------------------------------------------------

variable "notification_emails" {
  description = "E-mail addresses subscribed to the pipeline notifications topic (each must confirm the subscription)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.notification_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "notification_emails must be e-mail addresses."
  }
}

variable "iterator_age_alarm_seconds" {
  description = "Alarm when kinesis-normalizer falls this far behind the stream (IteratorAge, maximum over 5 minutes)."
  type        = number
  default     = 300

  validation {
    condition     = var.iterator_age_alarm_seconds >= 1
    error_message = "iterator_age_alarm_seconds must be >= 1."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the notifications topic's KMS key is deleted after `terraform destroy`."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be 7-30."
  }
}

variable "backfill" {
  description = "The backfill state machine's Distributed Map: objects per child execution (one csv-to-parquet call and one load each), child executions at once, and the share of them that may fail before the backfill does."
  type = object({
    items_per_batch              = optional(number, 20)
    max_concurrency              = optional(number, 10)
    tolerated_failure_percentage = optional(number, 5)
  })
  default = {}

  validation {
    condition = (
      var.backfill.items_per_batch >= 1 && var.backfill.items_per_batch <= 100
      && var.backfill.max_concurrency >= 1 && var.backfill.max_concurrency <= 10000
      && var.backfill.tolerated_failure_percentage >= 0 && var.backfill.tolerated_failure_percentage <= 100
    )
    error_message = "backfill: items_per_batch 1..100 (a batch is one Lambda invocation, and its result one state under Step Functions' 256 KiB), max_concurrency 1..10000 (Distributed Map's limit), tolerated_failure_percentage 0..100."
  }
}
