"""Raycrafter API: jobs, frames, leases, users and tokens, and the command outbox."""
