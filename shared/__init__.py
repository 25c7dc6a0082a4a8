"""Fleet Targets' common package: settings, engine, migrations, operations and their SQL."""
