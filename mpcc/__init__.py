"""The application: where the chain (``onchain``) meets the computation (``offchain``).

Only this package imports both sides. Its parts, from the bottom up: an
organisation's home and the consortium's workflows (``orgs``, ``consortium``,
``analyst``, ``progress``); the member's peer daemon (``peer``), the
preprocessing service (``service``) and the auditor (``audit``); the
in-process demo (``demo``); and the ``mpcc`` command line (``cli``).
"""
