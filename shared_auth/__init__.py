"""Zero-trust JWT authentication and token propagation for DRF services."""
