"""What every stage shares: settings, the embedded server, connections, errors, the target models, the contract."""
