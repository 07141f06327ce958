"""``raycrafter-notifier``: delivers the word that jobs ended, forever.

Its own program, not a task of the relay: a webhook receiver may take its whole timeout to
answer and an MTA may be slow, and neither may hold up the commands the relay publishes
for the worker. Each round it takes the notifications due (``deliveries.py``), sends each
(a signed webhook, or an e-mail to the MTA) and records the outcome; everything it knows
is in the database, so a restart carries on where the table says, and a notification
taken by a notifier that died is due again once its hold passes.
"""
import logging
import smtplib
import sys
import threading
import time

from raycrafter_contract import job_logging

from .. import programs
from ..database import db
from ..database.db import write_transaction
from . import deliveries, mail, signing, webhook_secrets, webhook_targets, webhooks

log = logging.getLogger("raycrafter.notifier")

BATCH = 50


class Notifier:
    def __init__(self, config):
        self.config = config
        self.stopping = threading.Event()
        # Longer than an attempt may take, so only a notifier that died holds one this long.
        self.hold_seconds = 3 * config.notify_timeout_seconds + 30

    def step(self):
        """Deliver what is due; returns how many notifications were tried."""
        with db.connection():
            batch = deliveries.due(BATCH)
        tried = 0
        for notification in batch:
            if self.stopping.is_set():
                break
            with db.connection():
                if not deliveries.claim(notification, self.hold_seconds):
                    continue
            tried += 1
            self.attempt(notification)
        return tried

    def attempt(self, notification):
        try:
            self.send(notification)
        except (webhook_targets.Refused, mail.Permanent) as error:
            self._failed(notification, error, permanent=True)
        except (webhooks.NotDelivered, smtplib.SMTPException, OSError) as error:
            self._failed(notification, error)
        else:
            with db.connection():
                deliveries.delivered(notification)
            with job_logging.about_job(notification.job_id):
                log.info("job %s: %s delivered to %s", notification.job_id,
                         notification.channel, notification.target)

    def send(self, notification):
        body = notification.body.encode()
        if notification.channel == "webhook":
            with db.connection(), write_transaction():
                secret = webhook_secrets.secret_of(deliveries.owner_of(notification))
            headers = signing.headers(secret, notification.id, int(time.time()), body)
            webhooks.post(notification.target, body, headers,
                          self.config.notify_allowed_networks,
                          self.config.notify_timeout_seconds)
        else:
            mail.send(mail.message(notification.body, self.config.mail_from,
                                   notification.target),
                      self.config.smtp_host, self.config.smtp_port,
                      self.config.notify_timeout_seconds)

    def _failed(self, notification, error, permanent=False):
        with db.connection():
            next_attempt = deliveries.failed(notification, error,
                                             self.config.notify_retry_seconds, permanent)
        with job_logging.about_job(notification.job_id):
            log.warning("job %s: %s to %s failed (%s); %s", notification.job_id,
                        notification.channel, notification.target, error,
                        f"next attempt at {next_attempt:%Y-%m-%d %H:%M:%S}Z" if next_attempt
                        else "given up")

    def run(self):
        log.info("notifier started (mail to %s:%s)", self.config.smtp_host,
                 self.config.smtp_port)
        programs.run_rounds(log, self.stopping, self.step, self._pause)
        log.info("notifier stopped")

    def _pause(self, tried):
        if tried < BATCH:  # a full batch: more may be due at once
            self.stopping.wait(self.config.notify_poll_seconds)


def main(argv=None):
    config = programs.configured("raycrafter-notifier", __doc__.split("\n")[0], argv)
    if config is None:
        return 1
    notifier = Notifier(config)
    programs.stop_on_signals(notifier.stopping)
    notifier.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
