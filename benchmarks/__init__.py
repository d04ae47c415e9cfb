"""Performance benchmarks of cloudflare-ai against the local emulator (see README.md)."""
