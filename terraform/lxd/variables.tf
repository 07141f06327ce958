variable "name" {
  description = "Prefix of every name (also the LXD network's: at most 15 characters), and the minion ids."
  type        = string
  default     = "raycrafter"
}

variable "roles" {
  description = "How many containers each role of the deployment catalogue (pillar/catalogue.yaml) gets, e.g. { db = 1, broker = 1, web = 1, worker = 2, logging = 1, cluster = 1 }; null: one of each role."
  type        = map(number)
  default     = null
}

variable "image" {
  description = "The LXD image every container starts from: Debian 12 with either cloud-init or sysvinit's rc.local (see docs/cloud.md)."
  type        = string
}

variable "storage_pool" {
  description = "The LXD storage pool of the containers' root disks."
  type        = string
  default     = "default"
}

variable "subnet_cidr" {
  description = "The network of the bridge the module makes; the host is .1 on it."
  type        = string
  default     = "10.42.1.0/24"
}

variable "repository_path" {
  description = "A checkout of this repository on the LXD host, mounted read-only as the master's file root; null to clone repository_url instead."
  type        = string
  default     = null
}

variable "repository_url" {
  description = "Where the master clones this repository from when repository_path is null."
  type        = string
  default     = "https://example.invalid/raycrafter.git"
}

variable "privileged" {
  description = "Privileged containers (needed by images that are a plain debootstrap root)."
  type        = bool
  default     = true
}

variable "lxd_socket" {
  description = "The LXD daemon's Unix socket."
  type        = string
  default     = "/var/lib/lxd/unix.socket"
}
