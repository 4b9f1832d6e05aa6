pytest_plugins = ["sigmavault.testing"]
