"""The desk pages of home-care monitoring (see docs/architecture.md): episodes and their buttons (`episodes`),
the station's board and silent list (`board`), the alerts' history (`alerts`), the managers' configuration
(`config`), and the pieces they share (`widgets`). Importing the package registers them on the desk site."""

from health_f0.monitoring.desk import alerts, config, episodes  # noqa: F401
