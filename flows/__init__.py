"""flows component of the 12345 hotline IVR."""
