"""Raycrafter API: jobs, frames, leases, users and tokens, and the command outbox.

One subpackage per concern: ``http`` (routes, the error shape, OpenAPI), ``jobs`` (jobs
and their states), ``frames`` (frames and leases), ``outbox`` (commands, the relay, the
broker), ``storage`` (files under the data directory), ``database`` (handle, tables,
migrations) and ``admin`` (``raycrafter-admin``). What every concern uses stays here:
``app`` (the WSGI entry point), ``config``, ``auth`` (tokens and principals), ``problems``
(the domain's refusals) and ``timeutil``.
"""
