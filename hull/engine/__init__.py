"""The container engine: what users see of containers (create, start, stop, ...).

Modules so far:

* ``config``: Docker's container create request (``Config`` and ``HostConfig``)
  as typed values, with Docker's validation and inspect serialisation.
* ``spec``: a container's OCI ``config.json`` from its image, config and host
  config, with Docker's defaults.
* ``seccomp_profile``: Docker's default seccomp profile, and loading of
  Docker-format profiles, filtered by a container's capabilities.
* ``units``: sizes, durations and ulimits as Docker's command line spells them.
"""
