# The AWS provider pointed at a local emulator (moto_server), for `make demo` and tests/harness/tests/terraform.rs.
# Copied beside the module as an override file with ENDPOINT replaced; never used against AWS.
# Test credentials, no account lookups, path-style S3, and one attempt per request, so an API the emulator lacks
# fails at once instead of being retried.
provider "aws" {
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true
  max_retries                 = 1

  endpoints {
    cloudwatch = "ENDPOINT"
    dynamodb   = "ENDPOINT"
    events     = "ENDPOINT"
    iam        = "ENDPOINT"
    kinesis    = "ENDPOINT"
    kms        = "ENDPOINT"
    lambda     = "ENDPOINT"
    logs       = "ENDPOINT"
    s3         = "ENDPOINT"
    sfn        = "ENDPOINT"
    sns        = "ENDPOINT"
    sqs        = "ENDPOINT"
    sts        = "ENDPOINT"
  }
}
