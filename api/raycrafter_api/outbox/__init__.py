"""Commands for the worker: the transactional outbox they are written to, and the relay
that publishes them to RabbitMQ and reconciles jobs stuck waiting for the worker."""
