#!/bin/sh
# Debian packages do not start services on install (see vagrant/box/build).
exit 101
