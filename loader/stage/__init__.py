"""Stage: check the legacy tables against the contract and COPY them into the target's staging schema."""
