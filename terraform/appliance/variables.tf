variable "name" {
  description = "Prefix of every host name and minion id, e.g. \"raycrafter\" gives raycrafter-master, raycrafter-web-1."
  type        = string
  default     = "raycrafter"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.name))
    error_message = "name: lower-case letters, digits and '-', starting with a letter, at most 31 characters."
  }
}

variable "roles" {
  description = "How many hosts each role of the deployment catalogue (pillar/catalogue.yaml) gets, e.g. { db = 1, broker = 1, web = 1, worker = 2, logging = 1, cluster = 1 }; null: one host for each role."
  type        = map(number)
  default     = null
  validation {
    condition     = var.roles == null || alltrue([for role in keys(coalesce(var.roles, {})) : contains(keys(yamldecode(file("${path.module}/../../pillar/catalogue.yaml")).roles), role)])
    error_message = "roles: each key is a role of the deployment catalogue, pillar/catalogue.yaml."
  }
  validation {
    # A role the catalogue gives max_hosts (the pillar names one address for each of
    # those roles) has no more hosts than that.
    condition = alltrue([
      for role, spec in yamldecode(file("${path.module}/../../pillar/catalogue.yaml")).roles :
      lookup(coalesce(var.roles, {}), role, 1) <= try(spec.max_hosts, 10)
    ])
    error_message = "roles: a role has more hosts than its max_hosts in pillar/catalogue.yaml (db, broker, web and logging have one)."
  }
  validation {
    condition     = alltrue([for role, count in coalesce(var.roles, {}) : count >= 0 && count <= 9 && floor(count) == count])
    error_message = "roles: each count is a whole number from 0 to 9."
  }
}

variable "subnet_cidr" {
  description = "The appliance's private subnet. Hosts get fixed addresses in it: the master .10, each role its own block of ten (see main.tf)."
  type        = string
  default     = "10.42.1.0/24"
  validation {
    condition     = can(cidrhost(var.subnet_cidr, 200))
    error_message = "subnet_cidr: an IPv4 network of at least 256 addresses, e.g. 10.42.1.0/24."
  }
}

variable "repository_url" {
  description = "Where the master clones this repository from (its file root)."
  type        = string
}

variable "repository_ref" {
  description = "The branch or tag of the repository the master checks out."
  type        = string
  default     = "main"
}

variable "web_name" {
  description = "The name users, workers and node agents reach the API by (the TLS certificate's name); the web host's private address when null."
  type        = string
  default     = null
}
