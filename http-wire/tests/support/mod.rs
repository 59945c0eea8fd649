//! Feeding helpers shared by the integration tests and the fuzz targets:
//! every input is parsed whole, one byte at a time, and in two pieces split
//! at every offset, and all of them must agree.
#![allow(dead_code, unreachable_pub)]

use gruvi_wire::{
    Limits, RequestHead, RequestParser, ResponseHead, ResponseParser, Status, WireError,
};

/// What a parse came to once all the input was fed.
pub type Outcome<H> = Result<Option<(H, usize)>, WireError>;

fn settle<H>(result: Result<Status<H>, WireError>) -> Outcome<H> {
    result.map(Status::complete)
}

/// Parses `input` as a request whole, byte by byte and split in two at every
/// offset; panics if any way disagrees, and returns the common outcome.
pub fn request_every_way(input: &[u8], limits: &Limits) -> Outcome<RequestHead> {
    every_way(input, || {
        let mut parser = RequestParser::new(*limits);
        move |buf: &[u8]| parser.parse(buf).map(Status::cloned)
    })
}

/// [`request_every_way`] for responses.
pub fn response_every_way(input: &[u8], limits: &Limits) -> Outcome<ResponseHead> {
    every_way(input, || {
        let mut parser = ResponseParser::new(*limits);
        move |buf: &[u8]| parser.parse(buf).map(Status::cloned)
    })
}

fn every_way<H, P, F>(input: &[u8], new_parser: F) -> Outcome<H>
where
    H: PartialEq + std::fmt::Debug,
    P: FnMut(&[u8]) -> Result<Status<H>, WireError>,
    F: Fn() -> P,
{
    let whole = settle(new_parser()(input));
    if let Ok(Some((_, consumed))) = &whole {
        assert!(
            *consumed <= input.len(),
            "consumed {consumed} of {}",
            input.len()
        );
    }

    // One byte at a time: the first answer that is not Partial must be the
    // whole-input answer, and a head completes exactly when its last byte
    // arrives.
    let mut parse = new_parser();
    let mut byte_by_byte = Ok(None);
    for end in 0..=input.len() {
        match parse(&input[..end]) {
            Ok(Status::Partial) => continue,
            other => {
                byte_by_byte = settle(other);
                if let Ok(Some((_, consumed))) = &byte_by_byte {
                    assert_eq!(*consumed, end, "a head must complete with its last byte");
                }
                break;
            }
        }
    }
    assert_eq!(
        byte_by_byte,
        whole,
        "byte by byte vs whole for {:?}",
        String::from_utf8_lossy(input)
    );

    // Two pieces, split at every offset.
    for split in 0..input.len() {
        let mut parse = new_parser();
        let first = parse(&input[..split]);
        let outcome = match first {
            Ok(Status::Partial) => settle(parse(input)),
            other => settle(other),
        };
        assert_eq!(
            outcome,
            whole,
            "split at {split} vs whole for {:?}",
            String::from_utf8_lossy(input)
        );
    }
    whole
}

/// [`request_every_way`] for trailer sections.
pub fn trailers_every_way(input: &[u8], limits: &Limits) -> Outcome<gruvi_wire::Fields> {
    every_way(input, || {
        let mut parser = gruvi_wire::TrailerParser::new(*limits);
        move |buf: &[u8]| parser.parse(buf).map(Status::cloned)
    })
}

/// Limits chosen by one fuzz byte, so that the limit paths (small heads,
/// short request lines, few fields, bare LF allowed) are exercised as often as
/// the defaults.
pub fn limits_from_knobs(knobs: u8) -> Limits {
    Limits {
        max_head_bytes: if knobs & 1 == 0 {
            64 * 1024
        } else {
            64 + usize::from(knobs)
        },
        max_request_line_bytes: if knobs & 2 == 0 {
            8 * 1024
        } else {
            16 + usize::from(knobs >> 2)
        },
        max_fields: if knobs & 4 == 0 { 100 } else { 3 },
        allow_bare_lf_in_requests: knobs & 8 != 0,
    }
}

/// The body of the `parse_request` fuzz target: the first byte picks the
/// limits, the rest is parsed every way; a parsed head also gets its framing
/// and keep-alive decided.
pub fn fuzz_request(data: &[u8]) {
    let Some((&knobs, input)) = data.split_first() else {
        return;
    };
    if let Ok(Some((head, _))) = request_every_way(input, &limits_from_knobs(knobs)) {
        let _ = gruvi_wire::request_framing(&head, input);
        let _ = gruvi_wire::wants_keep_alive(head.version(), head.fields(), input);
    }
}

/// The body of the `parse_response` fuzz target.
pub fn fuzz_response(data: &[u8]) {
    let Some((&knobs, input)) = data.split_first() else {
        return;
    };
    if let Ok(Some((head, _))) = response_every_way(input, &limits_from_knobs(knobs)) {
        for method in [&b"GET"[..], b"HEAD", b"CONNECT"] {
            let _ = gruvi_wire::response_framing(method, &head, input);
        }
        for field in head.fields() {
            let _ = field.value(input);
        }
    }
}
