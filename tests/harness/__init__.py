"""The harness's own tests: fakes that hang, crash, garble, answer twice or close early."""
