"""An example third-party maildoctor check plugin (see README.md), and provider data."""

from pathlib import Path

# maildoctor reads provider tables from the TOML file this entry point names (group maildoctor.providers)
PROVIDERS = str(Path(__file__).with_name("providers.toml"))
