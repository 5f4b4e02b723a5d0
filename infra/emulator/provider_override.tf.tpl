# The AWS provider pointed at a local emulator (moto_server), for `make demo` and tests/harness/tests/terraform.rs.
# Copied beside the module as an override file with ENDPOINT replaced; never used against AWS.
# Test credentials, no account lookups, path-style S3, and three attempts per request: moto_server serves requests
# on threads and now and then answers one of several concurrent calls with a 500 (seen on ListObjectVersions during
# a parallel destroy), which a retry absorbs. An API the emulator lacks still fails after those few attempts.
# Both providers of the module get the same settings: the default one and `aws.replica` (the replication region,
# replication.tf), which reaches the same emulator; moto keeps each region apart by the request's signing region.
provider "aws" {
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true
  max_retries                 = 3

  endpoints {
    apigatewayv2   = "ENDPOINT"
    athena         = "ENDPOINT"
    cloudwatch     = "ENDPOINT"
    dynamodb       = "ENDPOINT"
    events         = "ENDPOINT"
    glue           = "ENDPOINT"
    iam            = "ENDPOINT"
    kinesis        = "ENDPOINT"
    kms            = "ENDPOINT"
    lambda         = "ENDPOINT"
    logs           = "ENDPOINT"
    s3             = "ENDPOINT"
    secretsmanager = "ENDPOINT"
    sfn            = "ENDPOINT"
    sns            = "ENDPOINT"
    sqs            = "ENDPOINT"
    sts            = "ENDPOINT"
  }
}

provider "aws" {
  alias                       = "replica"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true
  max_retries                 = 3

  endpoints {
    apigatewayv2   = "ENDPOINT"
    athena         = "ENDPOINT"
    cloudwatch     = "ENDPOINT"
    dynamodb       = "ENDPOINT"
    events         = "ENDPOINT"
    glue           = "ENDPOINT"
    iam            = "ENDPOINT"
    kinesis        = "ENDPOINT"
    kms            = "ENDPOINT"
    lambda         = "ENDPOINT"
    logs           = "ENDPOINT"
    s3             = "ENDPOINT"
    secretsmanager = "ENDPOINT"
    sfn            = "ENDPOINT"
    sns            = "ENDPOINT"
    sqs            = "ENDPOINT"
    sts            = "ENDPOINT"
  }
}
