"""What the förbund gives its parties: the submission template (`template`)."""
