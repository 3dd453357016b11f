"""SIP user agent, RTP media and call engine of the 12345 hotline IVR."""
