# What every cloud module shares: the hosts and their fixed addresses, which role's hosts
# reach which ports, and the cloud-init each host boots with. No provider, no resource: the
# cloud modules (../aws, ../openstack, ../lxd) turn these values into machines.

locals {
  # The Salt the appliance pins, with the modules its states use (salt/requirements.txt,
  # salt/constraints.txt): a minion built here runs the same Salt as ./appliance does.
  salt_requirements = join("\n", regexall("(?m)^[A-Za-z0-9][A-Za-z0-9._-]*==[^\\s#]+", file("${path.module}/../../salt/requirements.txt")))
  salt_constraints  = file("${path.module}/../../salt/constraints.txt")

  # The deployment catalogue: the roles, their ports and who reaches them, the address
  # plan. Nothing here lists a role or a port of its own.
  catalogue = yamldecode(file("${path.module}/../../pillar/catalogue.yaml"))
  # How many hosts each role gets: one of each unless the variable says otherwise.
  roles = var.roles != null ? var.roles : { for role in keys(local.catalogue.roles) : role => 1 }

  # Each role has its own block of ten addresses (its address_block), so scaling one role
  # never renumbers the hosts of another (their addresses are in the firewall rules).
  master_name    = "${var.name}-master"
  master_address = cidrhost(var.subnet_cidr, local.catalogue.master.address)
  hosts = merge([
    for role, count in local.roles : {
      for index in range(count) : "${var.name}-${role}-${index + 1}" => {
        role    = role
        address = cidrhost(var.subnet_cidr, local.catalogue.roles[role].address_block + index)
      }
    }
  ]...)
  address_of = { for role in keys(local.catalogue.roles) : role => [for name, host in local.hosts : host.address if host.role == role] }

  # Every service of every role, of every role's hosts (every_host's: the master is not
  # a minion and runs none of them) and of the salt master, with the roles whose hosts may
  # reach it ("every_role": all of them) and the setting that names who else may.
  services = flatten([
    for role, spec in merge(local.catalogue.roles, { master = local.catalogue.master }) : [
      for name, service in merge(
        try(spec.services, {}),
        { for name, service in local.catalogue.every_host.services : "${name}" => service if role != "master" },
        ) : {
        role         = role
        name         = name
        from_port    = try(service.ports[0], service.port)
        to_port      = try(service.ports[1], service.port)
        from_roles   = contains(try(service.from, []), "every_role") ? keys(local.roles) : tolist(try(service.from, []))
        from_outside = try(service.from_outside, null)
        why          = service.why
      }
    ]
  ])
  # One rule per (service, client role), for clouds whose rules name one source group each;
  # only roles that have hosts appear.
  service_rules = {
    for pair in flatten([
      for service in local.services : [
        for client in service.from_roles : merge(service, { from_role = client })
        if lookup(local.roles, client, 0) > 0 && (service.role == "master" || lookup(local.roles, service.role, 0) > 0)
      ]
    ]) : "${pair.role}-${pair.from_port}-from-${pair.from_role}" => pair
  }
  # What is reached from outside the appliance, by the name of the setting that says from
  # where (web_sources, ssh_sources, log_sources, monitoring_sources): each role's such
  # services, every host's own (SSH for operators) among them, and the master's SSH.
  outside_rules = merge(
    {
      for service in local.services : "${service.role}-${service.name}" => service
      if service.from_outside != null && (service.role == "master" || lookup(local.roles, service.role, 0) > 0)
    },
    {
      for name, service in local.catalogue.every_host.services : "master-${name}" => {
        role         = "master"
        name         = name
        from_port    = try(service.ports[0], service.port)
        to_port      = try(service.ports[1], service.port)
        from_roles   = []
        from_outside = service.from_outside
        why          = service.why
      } if try(service.from_outside, null) != null
    },
  )

  # The master's site.sls: the hosts' network, so each host publishes its address on it
  # (the others are found through the Salt mine among the hosts the master assigns each
  # role), and the name users reach the API by, when it is not the web host's own.
  site_pillar = {
    raycrafter = merge(
      { common = { network = var.subnet_cidr } },
      var.web_name == null ? {} : { nginx = { server_names = [var.web_name] } },
    )
  }
  # The data that must outlive its hosts: a volume for each host of a role the catalogue
  # gives one, mounted at first boot before Salt runs (cloud-init/mount-volume.sh).
  volumes = {
    for name, host in local.hosts : name => {
      role    = host.role
      path    = local.catalogue.roles[host.role].volume.path
      size_gb = local.catalogue.roles[host.role].volume.size_gb
      label   = "rc-${host.role}"
    } if try(local.catalogue.roles[host.role].volume, null) != null
  }

  # Which minion holds which role: the master's word (pillar/roles.sls), never a grain.
  role_assignment = { for name, host in local.hosts : name => [host.role] }

  install_salt = file("${path.module}/cloud-init/install-salt.sh")

  minion_user_data = {
    for name, host in local.hosts : name => templatefile("${path.module}/cloud-init/minion.yaml.tftpl", {
      id                = name
      volume            = lookup(local.volumes, name, null)
      mount_volume      = file("${path.module}/cloud-init/mount-volume.sh")
      master_address    = local.master_address
      salt_requirements = local.salt_requirements
      salt_constraints  = local.salt_constraints
      install_salt      = local.install_salt
    })
  }
  master_user_data = templatefile("${path.module}/cloud-init/master.yaml.tftpl", {
    id                = local.master_name
    master_address    = local.master_address
    minion_ids        = sort(keys(local.hosts))
    repository_url    = var.repository_url
    repository_ref    = var.repository_ref
    site_pillar       = yamlencode(local.site_pillar)
    role_assignment   = yamlencode(local.role_assignment)
    salt_requirements = local.salt_requirements
    salt_constraints  = local.salt_constraints
    install_salt      = local.install_salt
  })
}
