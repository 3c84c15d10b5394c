"""The qconform harness: implementations, transports, cases, comparison, reports."""
