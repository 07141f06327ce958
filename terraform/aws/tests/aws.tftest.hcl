# The AWS module with a mocked provider: no API is called. "apply" here only makes the
# mock's values up, so security group ids are known and comparable.

mock_provider "aws" {}

variables {
  image_id       = "ami-0123456789abcdef0"
  repository_url = "https://git.example.org/raycrafter.git"
  roles          = { db = 1, broker = 1, web = 1, worker = 2, logging = 1, cluster = 1 }
}

run "every_instance_is_tagged_with_its_name_and_role" {
  assert {
    condition     = { for name, host in aws_instance.host : name => host.tags.Role } == { for name, host in module.appliance.hosts : name => host.role }
    error_message = "a host's Role tag is not its role"
  }
  assert {
    condition     = alltrue([for name, host in aws_instance.host : host.tags.Name == name])
    error_message = "a host's Name tag is not its minion id"
  }
  assert {
    condition     = aws_instance.master.tags == tomap({ Name = "raycrafter-master", Role = "master" })
    error_message = "the master's tags differ"
  }
}

run "each_instance_boots_with_its_own_user_data" {
  assert {
    condition = yamldecode([
      for file in yamldecode(aws_instance.host["raycrafter-db-1"].user_data).write_files : file.content
      if file.path == "/etc/salt/minion.d/raycrafter.conf"
    ][0]) == { master = aws_instance.master.private_ip, id = "raycrafter-db-1" }
    error_message = "the db host's minion configuration differs"
  }
  assert {
    condition     = strcontains(aws_instance.master.user_data, "/etc/salt/autosign.conf")
    error_message = "the master does not get the master's user data"
  }
  assert {
    condition     = aws_instance.host["raycrafter-worker-2"].private_ip == "10.42.1.71"
    error_message = "the second worker is not at its fixed address"
  }
}

run "the_database_takes_connections_from_the_web_group_only" {
  assert {
    condition = [
      for rule in aws_security_group_rule.service : [rule.from_port, rule.to_port, rule.source_security_group_id]
      if rule.security_group_id == aws_security_group.role["db"].id
    ] == [[5432, 5432, aws_security_group.role["web"].id]]
    error_message = "the db group has other ingress than 5432 from web"
  }
  assert {
    condition = toset([
      for rule in aws_security_group_rule.service : rule.source_security_group_id
      if rule.security_group_id == aws_security_group.role["master"].id
    ]) == toset([for role in keys(module.appliance.roles) : aws_security_group.role[role].id])
    error_message = "the salt master is not reachable from exactly the role groups"
  }
}

run "nothing_is_open_to_the_internet_by_default" {
  assert {
    condition     = length(aws_security_group_rule.outside) == 0
    error_message = "ingress from outside without web_client_cidrs or ssh_client_cidrs"
  }
  assert {
    condition     = alltrue([for rule in aws_security_group_rule.service : rule.cidr_blocks == null || length(coalesce(rule.cidr_blocks, [])) == 0])
    error_message = "a role's service rule admits an address range"
  }
}

run "users_reach_only_the_web_hosts_https_and_its_redirect" {
  variables {
    web_client_cidrs = ["198.51.100.0/24"]
  }
  assert {
    condition = {
      for key, rule in aws_security_group_rule.outside : key => [rule.from_port, rule.to_port, tolist(rule.cidr_blocks)]
      if rule.security_group_id == aws_security_group.role["web"].id
      } == {
      web-https = [443, 443, tolist(["198.51.100.0/24"])]
      web-http  = [80, 80, tolist(["198.51.100.0/24"])]
    }
    error_message = "the users' rules differ"
  }
  assert {
    condition     = length(aws_security_group_rule.outside) == 2
    error_message = "users reach more than the web host's HTTPS and its redirect"
  }
}

run "each_host_whose_data_outlives_it_gets_an_encrypted_volume_of_its_own" {
  assert {
    condition     = { for name, attachment in aws_volume_attachment.data : name => attachment.instance_id } == { for name in ["raycrafter-db-1", "raycrafter-web-1", "raycrafter-logging-1"] : name => aws_instance.host[name].id }
    error_message = "the volumes are not attached to their hosts"
  }
  assert {
    condition     = alltrue([for volume in aws_ebs_volume.data : volume.encrypted])
    error_message = "a volume is not encrypted"
  }
}
