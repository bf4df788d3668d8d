"""Test stand-ins shared by several parts (loopback servers)."""
