"""General tools the components share that are no rule of the appliance: how to wait
before trying again, how to open TLS to the broker, how to find a role in Consul's catalog
and how to call the API over HTTP. The rules themselves live one level up.
"""
