"""Who is calling, and with what role (issue 13).

settings   AUTH_* settings (shared.settings.Settings.auth): imports pydantic only, so every
           function reads them without loading the JWT library
identity   Identity (issuer, subject, role, driver_id, teams) and the claims it comes from
keys       an issuer's signing keys from its JWKS: cached, refetched on an unknown kid
tokens     the end user's bearer token from the headers, and its verification
"""
