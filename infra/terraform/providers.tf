# Credentials and account come from the environment (AWS_PROFILE, SSO, an assumed role). Tests against the local
# emulator add an override file beside this one; nothing emulator-specific lives here.
provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ project = "tributary", managed-by = "terraform" }, var.tags)
  }
}
