"""HTTP: the one wrapper every function uses, request bodies, CSV replies, the OpenAPI document."""
