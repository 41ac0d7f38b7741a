"""Backends run a session's agent somewhere: a Docker container, a local pty, a Kubernetes pod."""
