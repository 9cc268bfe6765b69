"""The conditional GAN: its training loop, the DiffAugment policy, the conditioning probe that tells whether
samples carry their labels, and the sample-quality measures."""
