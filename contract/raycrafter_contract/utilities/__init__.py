"""General tools the components share that are no rule of the appliance: how to wait
before trying again, how to open TLS to the broker, how to find a role in Consul's catalog,
how to call the API over HTTP and how a service reads its TOML file. The rules
themselves live one level up.
"""
