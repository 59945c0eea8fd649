//! Any bytes parsed as a response head: Ok or an error, never a panic, and the
//! same answer however split; framing is decided for every request method
//! that changes it. The body is shared with `cargo test` (tests/support).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/mod.rs"]
mod support;

fuzz_target!(|data: &[u8]| support::fuzz_response(data));
