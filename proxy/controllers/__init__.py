"""One controller per entity: account, container, object."""
