"""The NBD probe runner: probes, the server matrix, libnbd as a second client."""
