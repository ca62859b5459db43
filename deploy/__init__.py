"""Deployment files (systemd units, nginx, Prometheus, Grafana) and the helper that renders them."""
