"""Sans-IO model of the NBD protocol (doc/proto.md): a server, a client probe, the clause table."""
