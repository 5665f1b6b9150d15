"""Connected accounts: users connect downstream accounts (GitHub, any OAuth 2 provider) to this server.

Providers are configuration (``providers.py``); tokens live encrypted in a per-user vault in Firestore
(``vault.py``, ``sealing.py``); the function serves the connect pages (``routes.py``) behind signed,
single-use links (``links.py``). See docs/credentials.md, "Connected accounts".
"""
