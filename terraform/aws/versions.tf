terraform {
  required_version = ">= 1.7"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 3.x: the release the project's checks run (tests/terraform installs 3.39.0 from a
      # filesystem mirror); skip_get_ec2_platforms below is gone in 5.x.
      version = "~> 3.39"
    }
  }
}

# Credentials and the region's defaults come from the environment (AWS_PROFILE,
# AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ...): none is ever a variable.
provider "aws" {
  region = var.region

  # An EC2 endpoint of one's own (the project's tests use a fake EC2 API on loopback): then
  # nothing else of AWS is asked for.
  skip_credentials_validation = var.ec2_endpoint != null
  skip_requesting_account_id  = var.ec2_endpoint != null
  skip_metadata_api_check     = var.ec2_endpoint != null
  skip_get_ec2_platforms      = var.ec2_endpoint != null

  dynamic "endpoints" {
    for_each = var.ec2_endpoint == null ? [] : [var.ec2_endpoint]
    content {
      ec2 = endpoints.value
      sts = endpoints.value
    }
  }

  default_tags {
    tags = { Appliance = var.name }
  }
}
