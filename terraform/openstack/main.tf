module "appliance" {
  source         = "../appliance"
  name           = var.name
  roles          = var.roles
  subnet_cidr    = var.subnet_cidr
  repository_url = var.repository_url
  repository_ref = var.repository_ref
}

locals {
  groups = toset(concat(["master", "bastion"], [for role, count in module.appliance.roles : role if count > 0]))
  # Who may reach what from outside, by the setting the catalogue's services name; SSH
  # comes through the bastion only.
  outside_cidrs   = { web_sources = var.web_client_cidrs, log_sources = var.log_client_cidrs, monitoring_sources = var.monitoring_client_cidrs }
  ssh             = module.appliance.catalogue.every_host.services.ssh
  bastion_address = cidrhost(var.subnet_cidr, 5)
}

data "openstack_networking_network_v2" "external" {
  name = var.external_network_name
}

resource "openstack_networking_network_v2" "appliance" {
  name           = var.name
  admin_state_up = true
}

resource "openstack_networking_subnet_v2" "appliance" {
  name            = var.name
  network_id      = openstack_networking_network_v2.appliance.id
  cidr            = var.subnet_cidr
  ip_version      = 4
  dns_nameservers = var.dns_nameservers
}

resource "openstack_networking_router_v2" "appliance" {
  name                = var.name
  external_network_id = data.openstack_networking_network_v2.external.id
}

resource "openstack_networking_router_interface_v2" "appliance" {
  router_id = openstack_networking_router_v2.appliance.id
  subnet_id = openstack_networking_subnet_v2.appliance.id
}

resource "openstack_networking_secgroup_v2" "role" {
  for_each    = local.groups
  name        = "${var.name}-${each.key}"
  description = "Raycrafter ${each.key} hosts"
}

# Inside the appliance: each role's ports, only from the roles that use them.
resource "openstack_networking_secgroup_rule_v2" "service" {
  for_each          = module.appliance.service_rules
  description       = each.value.why
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "tcp"
  port_range_min    = each.value.from_port
  port_range_max    = each.value.to_port
  remote_group_id   = openstack_networking_secgroup_v2.role[each.value.from_role].id
  security_group_id = openstack_networking_secgroup_v2.role[each.value.role].id
}

resource "openstack_networking_secgroup_rule_v2" "ssh_from_bastion" {
  for_each          = setsubtract(local.groups, ["bastion"])
  description       = "SSH from the bastion host"
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "tcp"
  port_range_min    = local.ssh.port
  port_range_max    = local.ssh.port
  remote_group_id   = openstack_networking_secgroup_v2.role["bastion"].id
  security_group_id = openstack_networking_secgroup_v2.role[each.key].id
}

# From outside the appliance: operators to the bastion, users to the API, a real
# cluster's compute nodes to the log server.
resource "openstack_networking_secgroup_rule_v2" "outside" {
  for_each = merge(
    { for cidr in var.bastion_ssh_cidrs : "bastion-ssh-${cidr}" => { role = "bastion", from_port = local.ssh.port, to_port = local.ssh.port, cidr = cidr, why = "SSH to the bastion host" } },
    merge([
      for key, rule in module.appliance.outside_rules : {
        for cidr in lookup(local.outside_cidrs, rule.from_outside, []) : "${key}-${cidr}" => merge(rule, { cidr = cidr })
      }
    ]...),
  )
  description       = each.value.why
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "tcp"
  port_range_min    = each.value.from_port
  port_range_max    = each.value.to_port
  remote_ip_prefix  = each.value.cidr
  security_group_id = openstack_networking_secgroup_v2.role[each.value.role].id
}

resource "openstack_networking_port_v2" "machine" {
  for_each           = merge(module.appliance.machines, { "${var.name}-bastion" = { role = "bastion", address = local.bastion_address } })
  name               = each.key
  network_id         = openstack_networking_network_v2.appliance.id
  security_group_ids = [openstack_networking_secgroup_v2.role[each.value.role].id]
  fixed_ip {
    subnet_id  = openstack_networking_subnet_v2.appliance.id
    ip_address = each.value.address
  }
}

resource "openstack_compute_instance_v2" "bastion" {
  name        = "${var.name}-bastion"
  image_name  = var.image_name
  flavor_name = lookup(var.flavors, "bastion", var.default_flavor)
  key_pair    = var.key_pair
  metadata    = { appliance = var.name, role = "bastion" }
  network {
    port = openstack_networking_port_v2.machine["${var.name}-bastion"].id
  }
}

resource "openstack_compute_instance_v2" "machine" {
  for_each    = module.appliance.machines
  name        = each.key
  image_name  = var.image_name
  flavor_name = lookup(var.flavors, each.value.role, var.default_flavor)
  key_pair    = var.key_pair
  user_data   = each.value.user_data
  metadata    = { appliance = var.name, role = each.value.role }
  network {
    port = openstack_networking_port_v2.machine[each.key].id
  }
  # The master's and the hosts' first boot installs packages through the router.
  depends_on = [openstack_networking_router_interface_v2.appliance]
  # User data only matters at first boot, and a change would replace the host: a master
  # made anew would lose the appliance's secrets. New minions are accepted by hand instead
  # (docs/cloud.md).
  lifecycle {
    ignore_changes = [user_data]
  }
}

resource "openstack_networking_floatingip_v2" "public" {
  for_each = toset(concat(["${var.name}-bastion"], [for name, host in module.appliance.hosts : name if host.role == "web"]))
  pool     = var.external_network_name
}

resource "openstack_networking_floatingip_associate_v2" "public" {
  for_each    = openstack_networking_floatingip_v2.public
  floating_ip = each.value.address
  port_id     = openstack_networking_port_v2.machine[each.key].id
  depends_on  = [openstack_networking_router_interface_v2.appliance]
}

# The data that must outlive its host (the catalogue's `volume` of its role): a Cinder
# volume of its own, attached to the host, which mounts it at first boot
# (terraform/appliance). A host replaced gets the same volume back.
resource "openstack_blockstorage_volume_v3" "data" {
  for_each = module.appliance.volumes
  name     = "${each.key}-data"
  size     = each.value.size_gb
}

resource "openstack_compute_volume_attach_v2" "data" {
  for_each    = module.appliance.volumes
  instance_id = openstack_compute_instance_v2.machine[each.key].id
  volume_id   = openstack_blockstorage_volume_v3.data[each.key].id
}
