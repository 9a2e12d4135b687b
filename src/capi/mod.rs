//! The C ABI (see `include/libnotp.h`).
