"""Encrypted footage on disk: segment files, their index, retention."""
