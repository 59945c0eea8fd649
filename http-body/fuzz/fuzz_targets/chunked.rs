//! Any bytes decoded as a chunked body: Ok or an error, never a panic, and the
//! same answer whole, byte by byte and split at every offset. The body is
//! shared with `cargo test` (tests/support).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/mod.rs"]
mod support;

fuzz_target!(|data: &[u8]| support::fuzz_chunked(data));
