output "master" {
  description = "The salt master: its minion-style name and private address."
  value       = { name = "${var.name}-master", address = local.master_address }
}

output "hosts" {
  description = "Every role host by name (also its minion id): role and private address."
  value       = local.hosts
}

output "service_rules" {
  description = "Which role's hosts reach which ports of which role (\"master\" for the salt master), one entry per client role."
  value       = local.service_rules
}

output "minion_user_data" {
  description = "The cloud-init user data of each role host, by name."
  value       = local.minion_user_data
}

output "master_user_data" {
  description = "The salt master's cloud-init user data."
  value       = local.master_user_data
}
