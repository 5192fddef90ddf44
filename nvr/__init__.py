"""Porchlight: a privacy-first local NVR for doorbell cameras."""

__version__ = "0.1.0"
