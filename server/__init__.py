"""HTTP side of the product: app factory, configuration, CLI, pages and the REST API."""
