"""A throwaway PostgreSQL 15 server for tests.

    with ThrowawayPostgres() as pg:
        url = pg.create_database("t1")   # postgresql://postgres:PW@127.0.0.1:PORT/t1

``initdb`` runs as the ``postgres`` OS user (the tests run as root) into a temporary
directory owned by it; the server listens on 127.0.0.1 on a free port with its socket in
that directory, uses password authentication with a generated password, and is stopped
and deleted by ``stop()``. The system's own PostgreSQL is never touched.
"""
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile

BIN = "/usr/lib/postgresql/15/bin"
OS_USER = "postgres"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayPostgres:
    def __init__(self):
        self.dir = None
        self.port = None
        self.password = secrets.token_hex(16)

    def _as_postgres(self, *command, **kwargs):
        if os.geteuid() == 0:
            command = ("runuser", "-u", OS_USER, "--", *command)
        return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="rc-pg-")
        if os.geteuid() == 0:
            entry = pwd.getpwnam(OS_USER)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        data = os.path.join(self.dir, "data")
        pwfile = os.path.join(self.dir, "pw")
        self._as_postgres("sh", "-c", f"umask 077; printf %s '{self.password}' > {pwfile}")
        self._as_postgres(f"{BIN}/initdb", "-D", data, "-U", "postgres", "--pwfile", pwfile,
                          "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                          "--locale=C.UTF-8", "--no-sync")
        self.port = free_port()
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                   f"-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   f"-c max_connections=300")
        self._as_postgres(f"{BIN}/pg_ctl", "-D", data, "-o", options, "-w", "-t", "60",
                          "-l", os.path.join(self.dir, "server.log"), "start")
        return self

    def stop(self):
        if self.dir is None:
            return
        try:
            self._as_postgres(f"{BIN}/pg_ctl", "-D", os.path.join(self.dir, "data"), "-m",
                              "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass  # already stopped; the directory goes either way
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def psql(self, sql, database="postgres"):
        return self._as_postgres(f"{BIN}/psql", "-h", self.dir, "-p", str(self.port),
                                 "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1",
                                 "-At", "-c", sql).stdout

    def url(self, database):
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name):
        """Create an empty database and return its URL."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name):
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

