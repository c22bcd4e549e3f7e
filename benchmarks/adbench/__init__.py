"""ADBench real workloads (GMM, LSTM, BA, hand tracking): data readers, objectives, hand-written adjoints."""
