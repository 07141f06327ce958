#!/bin/sh
# Debian packages do not start services on install (see hosts/box/build).
exit 101
