// libFuzzer's entry for programs that have their own main (LLVM 12+). Linked only into the
// sanitizer build (`-sanitize=fuzzer`); fogline-fuzz calls it only when built with
// FOGLINE_LIBFUZZER defined.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
