"""Tests of the custom input channels (bot/channels/)."""
