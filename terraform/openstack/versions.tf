terraform {
  required_version = ">= 1.7"
  required_providers {
    openstack = {
      source  = "terraform-provider-openstack/openstack"
      version = "~> 3.0"
    }
  }
}

# The cloud and its credentials come from the environment: OS_CLOUD (clouds.yaml) or
# OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, ... (an OpenStack RC file).
provider "openstack" {}
