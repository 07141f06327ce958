"""The HTTP layer: routes that parse and check a request and call plain functions, the
one error shape, and the OpenAPI document. The only package that knows HTTP."""
