"""Channel adapters, chosen by settings (`NAVREME_CHANNELS`); see docs/how-to-add-a-channel.md."""
