# The shared module alone: no provider, so every value is known at plan.

variables {
  repository_url = "https://git.example.org/raycrafter.git"
  roles          = { db = 1, broker = 1, web = 1, worker = 2, logging = 1, cluster = 1 }
}

run "every_role_host_has_its_own_fixed_address" {
  command = plan

  assert {
    condition     = output.master.address == "10.42.1.10"
    error_message = "the master is not at .10"
  }
  assert {
    condition = output.hosts == {
      "raycrafter-db-1"      = { role = "db", address = "10.42.1.20" }
      "raycrafter-broker-1"  = { role = "broker", address = "10.42.1.30" }
      "raycrafter-logging-1" = { role = "logging", address = "10.42.1.40" }
      "raycrafter-web-1"     = { role = "web", address = "10.42.1.50" }
      "raycrafter-cluster-1" = { role = "cluster", address = "10.42.1.60" }
      "raycrafter-worker-1"  = { role = "worker", address = "10.42.1.70" }
      "raycrafter-worker-2"  = { role = "worker", address = "10.42.1.71" }
    }
    error_message = "hosts or addresses differ"
  }
}

run "each_port_is_open_only_to_the_roles_that_use_it" {
  command = plan

  assert {
    condition = sort([for rule in output.service_rules : "${rule.role}:${rule.from_port}-${rule.to_port}<${rule.from_role}"]) == sort([
      "db:5432-5432<web",
      "broker:5671-5671<web", "broker:5671-5671<worker",
      "web:443-443<worker", "web:443-443<cluster",
      "logging:12201-12201<cluster", "logging:12201-12201<web", "logging:12201-12201<worker",
      "logging:12201-12201<db", "logging:12201-12201<broker", "logging:12202-12202<web",
      "cluster:22-22<worker", "cluster:50000-50999<worker",
      "master:4505-4506<db", "master:4505-4506<broker", "master:4505-4506<web",
      "master:4505-4506<worker", "master:4505-4506<logging", "master:4505-4506<cluster",
    ])
    error_message = "the service rules differ"
  }
}

run "a_minion_names_its_master_and_its_id_and_the_master_its_roles" {
  command = plan

  assert {
    condition = yamldecode([
      for file in yamldecode(output.minion_user_data["raycrafter-worker-2"]).write_files : file.content
      if file.path == "/etc/salt/minion.d/raycrafter.conf"
    ][0]) == { master = "10.42.1.10", id = "raycrafter-worker-2" }
    error_message = "the minion configuration differs (a minion claims no role of its own)"
  }
  assert {
    condition = yamldecode([
      for file in yamldecode(output.master_user_data).write_files : file.content
      if file.path == "/etc/raycrafter/pillar/roles.yaml"
    ][0])["raycrafter-worker-2"] == ["worker"]
    error_message = "the master does not assign the second worker its role"
  }
  assert {
    condition = [
      for file in yamldecode(output.minion_user_data["raycrafter-web-1"]).write_files : trimspace(file.content)
      if file.path == "/etc/raycrafter/salt/requirements.txt"
    ] == ["salt==3008.3\npy-consul==1.8.0"]
    error_message = "the minion does not install the Salt of salt/requirements.txt"
  }
}

run "the_roles_whose_data_outlives_a_host_get_volumes_mounted_before_salt_runs" {
  command = plan

  assert {
    condition = { for name, volume in output.volumes : name => [volume.path, volume.label] } == {
      "raycrafter-db-1"      = ["/var/lib/postgresql", "rc-db"]
      "raycrafter-web-1"     = ["/var/lib/raycrafter", "rc-web"]
      "raycrafter-logging-1" = ["/var/log/raycrafter", "rc-logging"]
    }
    error_message = "the volumes differ from the catalogue's"
  }
  assert {
    condition = yamldecode(output.minion_user_data["raycrafter-db-1"]).runcmd == [
      ["/usr/local/sbin/raycrafter-volume", "/var/lib/postgresql", "rc-db"],
      ["/usr/local/sbin/raycrafter-salt", "minion"],
    ]
    error_message = "the db host does not mount its volume before Salt"
  }
  assert {
    condition     = yamldecode(output.minion_user_data["raycrafter-worker-1"]).runcmd == [["/usr/local/sbin/raycrafter-salt", "minion"]]
    error_message = "a worker mounts a volume it has none of"
  }
}

run "the_master_accepts_exactly_the_minions_it_was_made_with" {
  command = plan

  assert {
    condition = [
      for file in yamldecode(output.master_user_data).write_files : sort(split("\n", trimspace(file.content)))
      if file.path == "/etc/salt/autosign.conf"
    ][0] == sort(keys(output.hosts))
    error_message = "the autosign list is not the list of minions"
  }
  assert {
    condition = [
      for file in yamldecode(output.master_user_data).write_files : yamldecode(file.content)
      if file.path == "/etc/salt/master.d/raycrafter.conf"
    ][0].auto_accept == false
    error_message = "the master accepts any key"
  }
}

run "scaling_one_role_renumbers_no_other" {
  command = plan
  variables {
    roles = { db = 1, broker = 1, web = 1, worker = 5, logging = 1, cluster = 3 }
  }

  assert {
    condition     = output.hosts["raycrafter-web-1"].address == "10.42.1.50" && output.hosts["raycrafter-worker-5"].address == "10.42.1.74"
    error_message = "addresses moved"
  }
}

run "without_counts_every_role_of_the_catalogue_gets_one_host" {
  command = plan
  variables {
    roles = null
  }

  assert {
    condition     = sort([for host in output.hosts : host.role]) == sort(keys(yamldecode(file("../../pillar/catalogue.yaml")).roles))
    error_message = "not one host for each role of the catalogue"
  }
}

run "a_role_the_catalogue_does_not_know_is_refused" {
  command = plan
  variables {
    roles = { db = 1, mailer = 1 }
  }
  expect_failures = [var.roles]
}

run "a_second_database_is_refused" {
  command = plan
  variables {
    roles = { db = 2 }
  }
  expect_failures = [var.roles]
}
