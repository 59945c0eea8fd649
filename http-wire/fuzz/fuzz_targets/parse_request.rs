//! Any bytes parsed as a request head: Ok or an error, never a panic, and the
//! same answer whole, byte by byte and split at every offset. The first byte
//! picks the limits so that the limit paths are fuzzed too.
#![no_main]

use gruvi_wire::{request_framing, Limits};
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/mod.rs"]
mod support;

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, input)) = data.split_first() else { return };
    let limits = Limits {
        max_head_bytes: if knobs & 1 == 0 { 64 * 1024 } else { 64 + usize::from(knobs) },
        max_request_line_bytes: if knobs & 2 == 0 { 8 * 1024 } else { 16 + usize::from(knobs >> 2) },
        max_fields: if knobs & 4 == 0 { 100 } else { 3 },
        allow_bare_lf_in_requests: knobs & 8 != 0,
    };
    if let Ok(Some((head, _))) = support::request_every_way(input, &limits) {
        let _ = request_framing(&head, input);
        let _ = gruvi_wire::wants_keep_alive(head.version(), head.fields(), input);
    }
});
