//! Any response bytes, in any pieces, to the requests the input picks: no
//! panic, events only for requests sent and in order, and the same outcome
//! however the bytes are cut. The body is shared with `cargo test`
//! (tests/support), which runs it on random inputs.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/mod.rs"]
mod support;

fuzz_target!(|data: &[u8]| support::fuzz_client(data));
