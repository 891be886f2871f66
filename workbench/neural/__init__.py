"""Native PyTorch models and the trainer they share."""
