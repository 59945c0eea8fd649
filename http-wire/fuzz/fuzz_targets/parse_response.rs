//! Any bytes parsed as a response head: Ok or an error, never a panic, and the
//! same answer however split; framing is decided for every request method
//! that changes it.
#![no_main]

use gruvi_wire::{response_framing, Limits};
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/mod.rs"]
mod support;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((head, _))) = support::response_every_way(data, &Limits::default()) {
        for method in [&b"GET"[..], b"HEAD", b"CONNECT"] {
            let _ = response_framing(method, &head, data);
        }
        for field in head.fields() {
            let _ = field.value(data);
        }
    }
});
