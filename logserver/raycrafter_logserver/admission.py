"""Which records are taken, for which job, and how fast.

A record is taken only with a log credential the key signed and that has not expired
(``raycrafter_contract.log_credentials``); its job and attempt are the credential's,
whatever the record says. What one credential's senders may write is bounded by two token
buckets, records and bytes, shared by every connection that presents it: a sender over its
budget is told how long to wait, and its connection is read no faster than that, so a
flood costs its sender, never another job's records.
"""
import dataclasses
from typing import Dict, Optional

from raycrafter_contract import log_credentials
from raycrafter_contract.log_credentials import (AnyCredential, CredentialRefused,
                                                 HostCredential, ServiceCredential)

from .config import Config

# A budget untouched this long is full again; it is forgotten, so the table holds only
# the credentials that sent lately.
_IDLE_SECONDS = 600.0


class Bucket:
    """``rate`` tokens a second, up to ``burst``; starts full."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.updated = burst, now

    def take(self, amount: float, now: float) -> float:
        """Spend ``amount`` (going into debt if need be); the seconds until the debt is
        paid, 0 if there is none."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        self.tokens -= amount
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


@dataclasses.dataclass
class Budget:
    records: Bucket
    size: Bucket

    def charge(self, size: int, now: float) -> float:
        return max(self.records.take(1, now), self.size.take(size, now))


class Admission:
    def __init__(self, config: Config) -> None:
        self._config = config
        self._budgets: Dict[str, Budget] = {}
        self._swept = 0.0

    def check(self, text: object, now: float) -> AnyCredential:
        """The credential ``text`` is (a batch job's, a host's or a service's), or
        CredentialRefused (a missing one included)."""
        if text is None:
            raise CredentialRefused("no log credential")
        return log_credentials.verify_any(self._config.key, text, now)

    def charge(self, credential: AnyCredential, size: int, now: float) -> float:
        """Count a record of ``size`` bytes against its credential's budget (a batch job's,
        a host's or a service's); the seconds its sender must wait before it sends more."""
        self._sweep(now)
        key = sender(credential)
        budget = self._budgets.get(key)
        if budget is None:
            config = self._config
            budget = self._budgets[key] = Budget(
                Bucket(config.records_per_second, config.burst_records, now),
                Bucket(config.bytes_per_second, config.burst_bytes, now))
        return budget.charge(size, now)

    def _sweep(self, now: float) -> None:
        if now - self._swept < _IDLE_SECONDS:
            return
        self._swept = now
        for key in [key for key, budget in self._budgets.items()
                    if now - budget.records.updated > _IDLE_SECONDS]:
            del self._budgets[key]


def sender(credential: AnyCredential) -> str:
    """Who sends under a credential: a batch job's attempt, a host's programs, a service."""
    if isinstance(credential, HostCredential):
        return f"the programs of host {credential.host}"
    if isinstance(credential, ServiceCredential):
        return f"the service {credential.service}"
    return f"job {credential.job_id} attempt {credential.attempt}"


def credential_text(record: dict) -> Optional[object]:
    """The credential a record carries, taken out of it."""
    return record.pop(log_credentials.RECORD_FIELD, None)
