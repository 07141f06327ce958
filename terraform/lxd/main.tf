module "appliance" {
  source         = "../appliance"
  name           = var.name
  roles          = var.roles
  subnet_cidr    = var.subnet_cidr
  repository_url = var.repository_url
}

locals {
  cloud_config = { for name, machine in module.appliance.machines : name => yamldecode(machine.user_data) }
  # The same first-boot commands for an image without cloud-init: rc.local runs them once.
  first_boot = <<-SCRIPT
    #!/bin/sh
    # Runs the cloud-config's runcmd once, on an image without cloud-init (terraform/lxd).
    [ -e /etc/raycrafter/first-boot.done ] || command -v cloud-init >/dev/null && exit 0
    python3 - /etc/raycrafter/first-boot.json <<'PYTHON' >>/var/log/raycrafter-first-boot.log 2>&1 && touch /etc/raycrafter/first-boot.done
    import json, subprocess, sys
    for command in json.load(open(sys.argv[1])):
        subprocess.run(command, shell=isinstance(command, str), check=True)
    PYTHON
    SCRIPT
}

resource "lxd_network" "appliance" {
  name = var.name
  config = {
    "ipv4.address" = "${cidrhost(var.subnet_cidr, 1)}/${split("/", var.subnet_cidr)[1]}"
    # The containers reach nothing but each other and the host.
    "ipv4.nat"     = "false"
    "ipv6.address" = "none"
  }
}

resource "lxd_profile" "appliance" {
  name = var.name
  device {
    name       = "root"
    type       = "disk"
    properties = { path = "/", pool = var.storage_pool }
  }
}

# The data that must outlive its container (the catalogue's `volume` of its role): a
# custom volume of the storage pool, mounted by LXD at the role's path. A container
# replaced gets the same volume back.
resource "lxd_volume" "data" {
  for_each = module.appliance.volumes
  name     = "${each.key}-data"
  pool     = var.storage_pool
}

resource "lxd_container" "machine" {
  for_each = module.appliance.machines
  name     = each.key
  image    = var.image
  profiles = [lxd_profile.appliance.name]
  config = {
    "security.privileged" = tostring(var.privileged)
    # Read by cloud-init where the image has it; the files below serve the others.
    "user.user-data" = each.value.user_data
  }

  device {
    name       = "eth0"
    type       = "nic"
    properties = { network = lxd_network.appliance.name, "ipv4.address" = each.value.address }
  }

  dynamic "device" {
    for_each = contains(keys(module.appliance.volumes), each.key) ? [module.appliance.volumes[each.key]] : []
    content {
      name       = "data"
      type       = "disk"
      properties = { pool = var.storage_pool, source = lxd_volume.data[each.key].name, path = device.value.path }
    }
  }

  dynamic "device" {
    for_each = each.value.role == "master" && var.repository_path != null ? [var.repository_path] : []
    content {
      name       = "repository"
      type       = "disk"
      properties = { source = device.value, path = "/srv/raycrafter", readonly = "true" }
    }
  }

  dynamic "file" {
    for_each = local.cloud_config[each.key].write_files
    content {
      content            = file.value.content
      target_file        = file.value.path
      mode               = lookup(file.value, "permissions", "0644")
      create_directories = true
    }
  }
  file {
    content            = jsonencode(local.cloud_config[each.key].runcmd)
    target_file        = "/etc/raycrafter/first-boot.json"
    mode               = "0600"
    create_directories = true
  }
  file {
    content     = local.first_boot
    target_file = "/etc/rc.local"
    mode        = "0755"
  }
  # What a container boots with only matters at first boot; a master made anew would lose
  # the appliance's secrets. New minions are accepted by hand instead (docs/cloud.md).
  lifecycle {
    ignore_changes = [config, file]
  }
}
