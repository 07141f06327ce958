output "master" {
  description = "The salt master: its minion-style name and private address."
  value       = { name = local.master_name, address = local.master_address }
}

output "hosts" {
  description = "Every role host by name (also its minion id): role and private address."
  value       = local.hosts
}

output "catalogue" {
  description = "The deployment catalogue (pillar/catalogue.yaml), as the clouds read what they need of it."
  value       = local.catalogue
}

output "volumes" {
  description = "The volume of each host whose role's data must outlive it, by host name: role, path, size_gb and the file system label it is found by."
  value       = local.volumes
}

output "roles" {
  description = "How many hosts each role has (the variable, or one of each role of the catalogue)."
  value       = local.roles
}

output "outside_rules" {
  description = "What is reached from outside the appliance: per role (\"master\" for the salt master) a port range and the name of the setting that says from where (web_sources, ssh_sources, log_sources)."
  value       = local.outside_rules
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

output "machines" {
  description = "The master and every role host by name: role, private address and user data, for clouds that make them all alike."
  value = merge(
    { (local.master_name) = { role = "master", address = local.master_address, user_data = local.master_user_data } },
    { for name, host in local.hosts : name => merge(host, { user_data = local.minion_user_data[name] }) },
  )
}
