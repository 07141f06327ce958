"""Frames and their leases: claims, heartbeats and reports by node agents, expiry, and
a frame's results (its image and log) as users and the worker reach them."""
