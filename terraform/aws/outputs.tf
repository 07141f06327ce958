output "master" {
  description = "The salt master's addresses (run `salt '*' state.highstate` there)."
  value = {
    name       = aws_instance.master.tags.Name
    private_ip = aws_instance.master.private_ip
    public_ip  = aws_instance.master.public_ip
  }
}

output "web_address" {
  description = "The web host's public address (the API at https://ADDRESS/api/v1), or null without a web host."
  value       = try(one([for host in aws_instance.host : host.public_ip if host.tags.Role == "web"]), null)
}

output "hosts" {
  description = "Every role host by name: role, private and public address."
  value       = { for name, host in aws_instance.host : name => { role = host.tags.Role, private_ip = host.private_ip, public_ip = host.public_ip } }
}
