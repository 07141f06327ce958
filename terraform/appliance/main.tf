# What every cloud module shares: the hosts and their fixed addresses, which role's hosts
# reach which ports, and the cloud-init each host boots with. No provider, no resource: the
# cloud modules (../aws, ../openstack, ../lxd) turn these values into machines.

locals {
  # The Salt the appliance pins, with the modules its states use (salt/requirements.txt,
  # salt/constraints.txt): a minion built here runs the same Salt as ./appliance does.
  salt_requirements = join("\n", regexall("(?m)^[A-Za-z0-9][A-Za-z0-9._-]*==[^\\s#]+", file("${path.module}/../../salt/requirements.txt")))
  salt_constraints  = file("${path.module}/../../salt/constraints.txt")

  # Each role has its own block of ten addresses, so scaling one role never renumbers the
  # hosts of another (their addresses are in the master's pillar and in the firewall).
  first_address  = { db = 20, broker = 30, logging = 40, web = 50, cluster = 60, worker = 70 }
  master_name    = "${var.name}-master"
  master_address = cidrhost(var.subnet_cidr, 10)
  hosts = merge([
    for role, count in var.roles : {
      for index in range(count) : "${var.name}-${role}-${index + 1}" => {
        role    = role
        address = cidrhost(var.subnet_cidr, local.first_address[role] + index)
      }
    }
  ]...)
  address_of = { for role in keys(local.first_address) : role => [for name, host in local.hosts : host.address if host.role == role] }

  # The ports each role serves and the roles whose hosts need them; nothing else reaches a
  # role's hosts from inside the appliance. "master" is the salt master: every minion talks
  # to its publisher (4505) and request server (4506).
  services = [
    { role = "db", from_port = 5432, to_port = 5432, from_roles = ["web"], why = "PostgreSQL for the API" },
    { role = "broker", from_port = 5671, to_port = 5671, from_roles = ["web", "worker"], why = "AMQP over TLS: the API publishes, the worker consumes" },
    { role = "web", from_port = 443, to_port = 443, from_roles = ["worker", "cluster"], why = "the API over HTTPS for the worker and the node agents" },
    { role = "logging", from_port = 12201, to_port = 12201, from_roles = ["cluster"], why = "GELF over TCP from the node agents" },
    { role = "cluster", from_port = 22, to_port = 22, from_roles = ["worker"], why = "SSH and GridFTP (sshftp) control from the worker" },
    { role = "cluster", from_port = 50000, to_port = 50999, from_roles = ["worker"], why = "GridFTP data channels (GLOBUS_TCP_PORT_RANGE on the cluster host)" },
    { role = "master", from_port = 4505, to_port = 4506, from_roles = keys(var.roles), why = "the salt master: publisher and request server" },
  ]
  # One rule per (service, client role), for clouds whose rules name one source group each;
  # only roles that have hosts appear.
  service_rules = {
    for pair in flatten([
      for service in local.services : [
        for client in service.from_roles : merge(service, { from_role = client })
        if lookup(var.roles, client, 0) > 0 && (service.role == "master" || lookup(var.roles, service.role, 0) > 0)
      ]
    ]) : "${pair.role}-${pair.from_port}-from-${pair.from_role}" => pair
  }

  web_name = coalesce(var.web_name, try(local.address_of.web[0], "localhost"))

  # The master's site.sls: where each role is reached, and every service listening on its
  # host's private address for the roles that use it (pillar/pillar.example has each key).
  site_pillar = {
    raycrafter = {
      common = {
        hosts = {
          db      = try(local.address_of.db[0], "127.0.0.1")
          broker  = try(local.address_of.broker[0], "127.0.0.1")
          logging = try(local.address_of.logging[0], "127.0.0.1")
          web     = local.web_name
        }
      }
      postgres  = { listen_addresses = try(local.address_of.db[0], "127.0.0.1"), client_networks = [for address in local.address_of.web : "${address}/32"] }
      rabbitmq  = { bind = try(local.address_of.broker[0], "127.0.0.1") }
      logserver = { bind = try(local.address_of.logging[0], "127.0.0.1") }
      nginx     = { server_names = [local.web_name] }
      worker = {
        api_url = "https://${local.web_name}"
        clusters = length(local.address_of.cluster) == 0 ? {} : {
          standin = {
            login_host    = local.address_of.cluster[0]
            agent_api_url = "https://${local.web_name}"
            log_host      = try(local.address_of.logging[0], "127.0.0.1")
          }
        }
      }
    }
  }

  install_salt = file("${path.module}/cloud-init/install-salt.sh")

  minion_user_data = {
    for name, host in local.hosts : name => templatefile("${path.module}/cloud-init/minion.yaml.tftpl", {
      id                = name
      role              = host.role
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
    salt_requirements = local.salt_requirements
    salt_constraints  = local.salt_constraints
    install_salt      = local.install_salt
  })
}
