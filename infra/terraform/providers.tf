# Credentials and account come from the environment (AWS_PROFILE, SSO, an assumed role). Tests against the local
# emulator add an override file beside this one; nothing emulator-specific lives here.
provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ project = "tributary", managed-by = "terraform" }, var.tags)
  }
}

# The region of the cross-region replicas (replication.tf). Declared whether or not var.replication is set, since a
# provider cannot be conditional; without replication it points at var.region and nothing uses it.
provider "aws" {
  alias  = "replica"
  region = try(var.replication.region, var.region)

  default_tags {
    tags = merge({ project = "tributary", managed-by = "terraform" }, var.tags)
  }
}
