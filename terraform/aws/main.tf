module "appliance" {
  source         = "../appliance"
  name           = var.name
  roles          = var.roles
  subnet_cidr    = var.subnet_cidr
  repository_url = var.repository_url
  repository_ref = var.repository_ref
}

locals {
  # Every role that has hosts, and the master, gets a security group of its own.
  groups = toset(concat(["master"], [for role, count in module.appliance.roles : role if count > 0]))
  # Who may reach what from outside, by the setting the catalogue's services name.
  outside_cidrs = { web_sources = var.web_client_cidrs, ssh_sources = var.ssh_client_cidrs, log_sources = var.log_client_cidrs, monitoring_sources = var.monitoring_client_cidrs }
}

resource "aws_vpc" "appliance" {
  cidr_block           = var.vpc_cidr
  enable_dns_hostnames = true
  tags                 = { Name = var.name }
}

# The hosts install Salt and the roles' packages from the internet at first boot.
resource "aws_internet_gateway" "appliance" {
  vpc_id = aws_vpc.appliance.id
  tags   = { Name = var.name }
}

resource "aws_subnet" "appliance" {
  vpc_id                  = aws_vpc.appliance.id
  cidr_block              = var.subnet_cidr
  map_public_ip_on_launch = true
  tags                    = { Name = var.name }
}

resource "aws_route_table" "appliance" {
  vpc_id = aws_vpc.appliance.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.appliance.id
  }
  tags = { Name = var.name }
}

resource "aws_route_table_association" "appliance" {
  subnet_id      = aws_subnet.appliance.id
  route_table_id = aws_route_table.appliance.id
}

resource "aws_security_group" "role" {
  for_each    = local.groups
  name        = "${var.name}-${each.key}"
  description = "Raycrafter ${each.key} hosts"
  vpc_id      = aws_vpc.appliance.id
  tags        = { Name = "${var.name}-${each.key}", Role = each.key }
}

resource "aws_security_group_rule" "egress" {
  for_each          = local.groups
  description       = "packages at first boot, and the site cluster"
  type              = "egress"
  security_group_id = aws_security_group.role[each.key].id
  protocol          = "-1"
  from_port         = 0
  to_port           = 0
  cidr_blocks       = ["0.0.0.0/0"]
}

# Inside the appliance: each role's ports, only from the roles that use them.
resource "aws_security_group_rule" "service" {
  for_each                 = module.appliance.service_rules
  description              = each.value.why
  type                     = "ingress"
  security_group_id        = aws_security_group.role[each.value.role].id
  source_security_group_id = aws_security_group.role[each.value.from_role].id
  protocol                 = "tcp"
  from_port                = each.value.from_port
  to_port                  = each.value.to_port
}

# From outside the appliance: users to the API, operators over SSH, a real cluster's
# compute nodes to the log server; nothing by default.
resource "aws_security_group_rule" "outside" {
  for_each          = { for key, rule in module.appliance.outside_rules : key => rule if length(local.outside_cidrs[rule.from_outside]) > 0 }
  description       = each.value.why
  type              = "ingress"
  security_group_id = aws_security_group.role[each.value.role].id
  protocol          = "tcp"
  from_port         = each.value.from_port
  to_port           = each.value.to_port
  cidr_blocks       = local.outside_cidrs[each.value.from_outside]
}

resource "aws_instance" "master" {
  ami                    = var.image_id
  instance_type          = lookup(var.instance_types, "master", "t3.small")
  key_name               = var.key_name
  subnet_id              = aws_subnet.appliance.id
  private_ip             = module.appliance.master.address
  vpc_security_group_ids = [aws_security_group.role["master"].id]
  user_data              = module.appliance.master_user_data
  tags                   = { Name = module.appliance.master.name, Role = "master" }
  # User data only matters at first boot, and a change would replace the host: a master
  # made anew would lose the appliance's secrets. New minions are accepted by hand instead
  # (docs/cloud.md).
  lifecycle {
    ignore_changes = [user_data]
  }
}

resource "aws_instance" "host" {
  for_each               = module.appliance.hosts
  ami                    = var.image_id
  instance_type          = lookup(var.instance_types, each.value.role, "t3.small")
  key_name               = var.key_name
  subnet_id              = aws_subnet.appliance.id
  private_ip             = each.value.address
  vpc_security_group_ids = [aws_security_group.role[each.value.role].id]
  user_data              = module.appliance.minion_user_data[each.key]
  tags                   = { Name = each.key, Role = each.value.role }
  lifecycle {
    ignore_changes = [user_data]
  }
  # A minion that boots first retries until its master answers; starting the master first
  # only saves those retries.
  depends_on = [aws_instance.master]
}

# The data that must outlive its host (the catalogue's `volume` of its role): a volume of
# its own, attached to the host, which mounts it at first boot (terraform/appliance). A
# host replaced gets the same volume back.
resource "aws_ebs_volume" "data" {
  for_each          = module.appliance.volumes
  availability_zone = aws_subnet.appliance.availability_zone
  size              = each.value.size_gb
  type              = "gp3"
  encrypted         = true
  tags              = { Name = "${each.key}-data", Role = each.value.role }
}

resource "aws_volume_attachment" "data" {
  for_each    = module.appliance.volumes
  device_name = "/dev/sdf"
  volume_id   = aws_ebs_volume.data[each.key].id
  instance_id = aws_instance.host[each.key].id
}
