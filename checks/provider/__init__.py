"""provider.*: who hosts the domain's mail (Google Workspace, Microsoft 365, ...) and whether the
records that provider documents are in place. The knowledge is data: diagnose/knowledge/providers.toml."""
