"""Word when a job ends: a webhook signed the Standard Webhooks way and an e-mail through the
MTA, written with the job's final state and delivered, with retries, by
``raycrafter-notifier``."""
