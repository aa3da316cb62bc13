"""``make bench``: the IdP as deployed (``idp init`` + ``idp serve``, granian by default) driven over
loopback by a Python load generator on the same machine, on SQLite and PostgreSQL, and
side by side with node-oidc-provider (one core each, in turns, in the same run).

Every throughput is reported beside a limit measured in the same run (raw argon2id
verifications, raw RS256/ES256 signatures per core), per vCPU the server actually used
(the load generator shares the machine's cores) and, for the flows both servers have, as a
ratio to the peer's. A benchmark reports figures; it never fails a test and ``make test``
does not run it.
"""
