terraform {
  # 1.9 for validation rules that refer to other variables.
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Exact pin: the same provider everywhere, whether or not a lock file is present (see README: Terraform).
      version = "5.100.0"
    }
  }
}
