output "bastion" {
  description = "The bastion's public address and the SSH jump to use for every other host."
  value = {
    address = openstack_networking_floatingip_v2.public["${var.name}-bastion"].address
    jump    = "${var.bastion_user}@${openstack_networking_floatingip_v2.public["${var.name}-bastion"].address}"
  }
}

output "master" {
  description = "The salt master (ssh -J BASTION debian@ADDRESS, then salt '*' state.highstate)."
  value       = { name = module.appliance.master.name, address = module.appliance.master.address }
}

output "web_address" {
  description = "The web host's public address (the API at https://ADDRESS/api/v1), or null without a web host."
  value       = try(one([for name, ip in openstack_networking_floatingip_v2.public : ip.address if name != "${var.name}-bastion"]), null)
}

output "hosts" {
  description = "Every role host by name: role and private address."
  value       = module.appliance.hosts
}
