# The LXD module with a mocked provider: what each container is made with.

mock_provider "lxd" {}

variables {
  image           = "raycrafter-bookworm"
  roles           = { web = 1, worker = 1 }
  repository_path = "/srv/checkout"
}

run "each_container_sits_at_its_fixed_address_on_the_appliance_bridge" {
  assert {
    condition = {
      for name, container in lxd_container.machine : name => [
        for device in container.device : device.properties["ipv4.address"] if device.name == "eth0"
      ][0]
    } == { raycrafter-master = "10.42.1.10", raycrafter-web-1 = "10.42.1.50", raycrafter-worker-1 = "10.42.1.70" }
    error_message = "containers' addresses differ"
  }
  assert {
    condition     = lxd_network.appliance.config["ipv4.nat"] == "false" && lxd_network.appliance.config["ipv4.address"] == "10.42.1.1/24"
    error_message = "the bridge routes out or has another address"
  }
}

run "only_the_master_mounts_the_repository" {
  assert {
    condition = {
      for name, container in lxd_container.machine : name => [
        for device in container.device : device.properties.source if device.name == "repository"
      ]
    } == { raycrafter-master = ["/srv/checkout"], raycrafter-web-1 = [], raycrafter-worker-1 = [] }
    error_message = "the repository is not (only) on the master"
  }
}

run "a_container_without_cloud_init_gets_the_same_files_and_commands" {
  assert {
    condition = yamldecode([
      for file in lxd_container.machine["raycrafter-worker-1"].file : file.content
      if file.target_file == "/etc/salt/minion.d/raycrafter.conf"
    ][0]) == { master = "10.42.1.10", id = "raycrafter-worker-1" }
    error_message = "the worker's minion configuration differs"
  }
  assert {
    condition = jsondecode([
      for file in lxd_container.machine["raycrafter-worker-1"].file : file.content
      if file.target_file == "/etc/raycrafter/first-boot.json"
    ][0]) == [["/usr/local/sbin/raycrafter-salt", "minion"]]
    error_message = "the worker's first-boot commands differ"
  }
  assert {
    condition     = lxd_container.machine["raycrafter-web-1"].config["user.user-data"] == module.appliance.minion_user_data["raycrafter-web-1"]
    error_message = "an image with cloud-init does not get the user data"
  }
}
