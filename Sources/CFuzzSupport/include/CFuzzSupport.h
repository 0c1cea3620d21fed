#include <stddef.h>
#include <stdint.h>
// libFuzzer's mutator, weak so that builds without -sanitize=fuzzer still link.
extern size_t LLVMFuzzerMutate(uint8_t *Data, size_t Size, size_t MaxSize) __attribute__((weak));
