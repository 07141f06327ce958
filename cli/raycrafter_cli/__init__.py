"""``raycrafter``: the command-line client researchers run on their own machines.

A distribution of its own: the standard library and the contract (itself standard
library only), none of the server's modules (bottle, peewee, waitress), so it runs
wherever Python 3.11 does. It talks to the API over HTTP(S) like any other client.
"""
