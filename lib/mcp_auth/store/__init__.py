"""Firestore data access. Everything a user owns lives under ``users/{uid}``."""
