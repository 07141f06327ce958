"""Word of a job's end by e-mail, handed to the MTA the appliance configures (exim4 on the
web host: a local delivery, or a relay to the site's smarthost; salt/mta)."""
import json
import smtplib
from email.message import EmailMessage

EMAIL_MAX_CHARS = 254


class Permanent(Exception):
    """The MTA refused the message for good (a 5xx answer): trying again cannot help."""


def check_address(address):
    """None if ``address`` looks like one mailbox, else what is wrong with it."""
    local, at, domain = address.rpartition("@")
    if (len(address) > EMAIL_MAX_CHARS or not at or not local or not domain
            or not address.isprintable() or any(c in address for c in " <>,;:\"()[]\\")):
        return f"must be one e-mail address (name@domain) of at most {EMAIL_MAX_CHARS} " \
               f"characters"
    return None


def message(body, sender, recipient):
    """The e-mail for a notification's JSON ``body`` (notify/messages.py)."""
    word = json.loads(body)
    job = word["data"]
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = recipient
    mail["Subject"] = f"Raycrafter job {job['id']} ({job['name']}) is {job['state']}"
    lines = [f"Your job {job['id']}, {job['name']}, is {job['state']} "
             f"({job['finished_at']}).", ""]
    if job["error"]:
        lines += [f"Why: {job['error']}", ""]
    lines += ["Frames: " + ", ".join(f"{count} {state}" for state, count
                                       in job["progress"].items() if count),
              "", f"raycrafter status {job['id']}"]
    mail.set_content("\n".join(lines))
    return mail


def send(mail, host, port, timeout):
    """Hand ``mail`` to the MTA; Permanent on a 5xx answer, smtplib or OSError errors for
    what may pass."""
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            smtp.send_message(mail)
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        if all(code >= 500 for code in codes):
            raise Permanent(f"the MTA refused the recipient: {error.recipients}") from None
        raise
    except smtplib.SMTPResponseException as error:
        if error.smtp_code >= 500:
            raise Permanent(f"the MTA answered {error.smtp_code}: "
                            f"{error.smtp_error.decode('utf-8', 'replace')}") from None
        raise
