output "master" {
  description = "The salt master (lxc exec NAME -- /opt/raycrafter/salt/bin/salt '*' state.highstate)."
  value       = module.appliance.master
}

output "hosts" {
  description = "Every role container by name: role and address."
  value       = module.appliance.hosts
}

output "web_address" {
  description = "The web container's address, or null without one."
  value       = try(one([for host in module.appliance.hosts : host.address if host.role == "web"]), null)
}
