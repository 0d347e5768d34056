"""The messaging hub: one message model, an outbox, workers, and a channel adapter per channel."""
