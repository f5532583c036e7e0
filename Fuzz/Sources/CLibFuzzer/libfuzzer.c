// Declarations only: the definition comes from the libFuzzer runtime.
