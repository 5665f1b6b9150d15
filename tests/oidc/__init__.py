"""The test authorization server: oidc-provider (npm) on loopback, and its Python helper."""
