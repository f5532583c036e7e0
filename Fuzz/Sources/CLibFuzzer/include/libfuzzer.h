// libFuzzer's driver (in the runtime that -sanitize=fuzzer links): our own main calls it, because
// SwiftPM 6.3 links executables with main=<Module>_main, which libFuzzer's main cannot replace.
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
