variable "name" {
  description = "Prefix of every name and the Appliance tag of every resource."
  type        = string
  default     = "raycrafter"
}

variable "region" {
  description = "The AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "roles" {
  description = "How many hosts each role of the deployment catalogue (pillar/catalogue.yaml) gets, e.g. { db = 1, broker = 1, web = 1, worker = 2, logging = 1, cluster = 1 }; null: one of each role."
  type        = map(number)
  default     = null
}

variable "image_id" {
  description = "The AMI every host boots: Debian 12 (bookworm) with cloud-init, e.g. Debian's own debian-12-amd64 image of the region."
  type        = string
}

variable "instance_types" {
  description = "The instance type per role (and \"master\"); a role not named gets t3.small."
  type        = map(string)
  default     = { master = "t3.small", worker = "t3.small", cluster = "t3.medium" }
}

variable "key_name" {
  description = "An existing EC2 key pair for SSH to the hosts, or null for none."
  type        = string
  default     = null
}

variable "vpc_cidr" {
  description = "The VPC's network."
  type        = string
  default     = "10.42.0.0/16"
}

variable "subnet_cidr" {
  description = "The appliance's subnet inside the VPC; hosts get fixed addresses in it."
  type        = string
  default     = "10.42.1.0/24"
}

variable "web_client_cidrs" {
  description = "Who may reach the API over HTTPS (users). Empty: nobody outside the appliance."
  type        = list(string)
  default     = []
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

variable "ssh_client_cidrs" {
  description = "Who may reach the hosts over SSH (operators). Empty: nobody."
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

variable "ec2_endpoint" {
  description = "An EC2 API endpoint of one's own instead of AWS's (tests: a fake EC2 API on loopback)."
  type        = string
  default     = null
}
