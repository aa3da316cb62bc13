"""``make bench``: the IdP as deployed (``idp init`` + ``idp serve`` = gunicorn) driven over
loopback by a Python load generator on the same machine.

Every throughput is reported beside a limit measured in the same run (raw argon2id
verifications, raw RS256/ES256 signatures per core), and per vCPU the server actually
used, because the load generator shares the machine's cores. A benchmark reports
figures; it never fails a test and ``make test`` does not run it.
"""
