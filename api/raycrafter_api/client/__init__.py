"""``raycrafter``: the command-line client researchers run on their own machines.

It is shipped in the API's distribution but stands apart from the server: standard
library only, and no import of the server's modules (bottle, peewee, waitress), so it
runs wherever Python 3.11 does. It talks to the API over HTTP(S) like any other client.
"""
