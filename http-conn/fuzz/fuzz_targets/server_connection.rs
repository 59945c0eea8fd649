//! Any bytes, in any pieces, into a server connection whose application
//! answers, drops bodies and lets time pass as the input says: no panic,
//! and every byte written is a well-framed response. The body is shared
//! with `cargo test` (tests/support), which runs it on random inputs.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/mod.rs"]
mod support;

fuzz_target!(|data: &[u8]| support::fuzz_server(data));
