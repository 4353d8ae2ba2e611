"""People, departments, areas and roles: who may do what, where, and which fields they see.

``org`` holds the organisation (areas by administrative code, departments as a tree, roles with
their permissions), read from a TOML file; ``policy`` decides with a Casbin RBAC model whether a
principal may take an action in a scene for an area and which fields are masked for it;
``passwords`` and ``totp`` are the local sign-in's secrets; ``principal`` is who a request is.
"""
