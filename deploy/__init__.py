"""Running Engagements outside a cluster: the embedded, one-machine run (`python -m deploy.embedded`)."""
