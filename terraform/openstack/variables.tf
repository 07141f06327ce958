variable "name" {
  description = "Prefix of every name, and the minion ids."
  type        = string
  default     = "raycrafter"
}

variable "roles" {
  description = "How many hosts each role of the deployment catalogue (pillar/catalogue.yaml) gets, e.g. { db = 1, broker = 1, web = 1, worker = 2, logging = 1, cluster = 1 }; null: one of each role."
  type        = map(number)
  default     = null
}

variable "image_name" {
  description = "The Glance image every host boots: Debian 12 (bookworm) with cloud-init."
  type        = string
}

variable "flavors" {
  description = "The flavor per role (and \"master\", \"bastion\"); a role not named gets default_flavor."
  type        = map(string)
  default     = {}
}

variable "default_flavor" {
  description = "The flavor of every host whose role is not in flavors."
  type        = string
  default     = "m1.small"
}

variable "key_pair" {
  description = "The name of an existing Nova key pair: its public key is put on the bastion and on every host."
  type        = string
}

variable "external_network_name" {
  description = "The provider network that routes out and hands out floating addresses."
  type        = string
  default     = "public"
}

variable "subnet_cidr" {
  description = "The appliance's private subnet; hosts get fixed addresses in it."
  type        = string
  default     = "10.42.1.0/24"
}

variable "dns_nameservers" {
  description = "The private subnet's DNS servers."
  type        = list(string)
  default     = []
}

variable "bastion_ssh_cidrs" {
  description = "Who may reach the bastion host over SSH. The other hosts take SSH only from the bastion (ssh -J)."
  type        = list(string)
}

variable "bastion_user" {
  description = "The login user of the image (Debian's cloud images: debian)."
  type        = string
  default     = "debian"
}

variable "monitoring_client_cidrs" {
  description = "Who may reach Prometheus and Alertmanager on the monitoring host (operators). Empty: nobody outside the appliance."
  type        = list(string)
  default     = []
}

variable "log_client_cidrs" {
  description = "Who else may send GELF records to the log server: a real cluster's compute nodes. Empty: only the stand-in cluster's hosts."
  type        = list(string)
  default     = []
}

variable "web_client_cidrs" {
  description = "Who may reach the API over HTTPS (users). Empty: nobody outside the appliance."
  type        = list(string)
  default     = []
}

variable "repository_url" {
  description = "Where the master clones this repository from."
  type        = string
}

variable "repository_ref" {
  description = "The branch or tag the master checks out."
  type        = string
  default     = "main"
}
