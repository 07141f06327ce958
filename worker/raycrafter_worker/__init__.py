"""Raycrafter worker: the only part of the appliance that reaches the cluster.

It turns commands from RabbitMQ into actions on the cluster's login node (over one SSH
connection per cluster) and reports every outcome to the API, which owns the job state.
"""
