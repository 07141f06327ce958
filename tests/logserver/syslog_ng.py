"""syslog-ng receiving GELF over TCP, as the appliance's log server was before it had one
of its own: the ground truth of the records' format (test_record_format.py).

syslog-ng (Debian) splits a TCP stream on the null bytes that frame GELF messages
(``flags(no-parse)``), parses each frame as JSON and writes one JSON object per line, GELF
fields (``_job_id``, ``_frame``, ...) kept as they were sent (values arrive as strings).
"""
import os
import socket

from support.log_server import RecordsReceiver

CONFIG = """@version: 3.38
options {{ stats-freq(0); use-dns(no); dns-cache(no); log-fifo-size(100000); }};
source s_gelf {{
    network(ip("127.0.0.1") port({port}) transport("tcp") flags(no-parse)
            log-msg-size(1048576) max-connections(64) log-iw-size(64000));
}};
parser p_gelf {{ json-parser(prefix("gelf.")); }};
destination d_records {{
    file("{records}" template("$(format-json --key gelf.* --shift-levels 1)\\n")
         flush-lines(1));
}};
log {{ source(s_gelf); parser(p_gelf); destination(d_records); flags(flow-control); }};
"""


class SyslogNg(RecordsReceiver):
    output_name = "syslog-ng.out"

    def __init__(self, directory, port=None):
        super().__init__(directory, port)
        self.config_file = os.path.join(self.directory, "syslog-ng.conf")
        with open(self.config_file, "w") as handle:
            handle.write(CONFIG.format(port=self.port, records=self.records_file))

    def command(self):
        # -e: syslog-ng's own messages go to its output file.
        return ["syslog-ng", "-F", "-e", "--no-caps", "-f", self.config_file,
                "--persist-file", os.path.join(self.directory, "syslog-ng.persist"),
                "--pidfile", os.path.join(self.directory, "syslog-ng.pid"),
                "--control", os.path.join(self.directory, "syslog-ng.ctl")]

    def ready(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False
