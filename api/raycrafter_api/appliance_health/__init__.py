"""The appliance's health for its operators, as Prometheus measures it."""
