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
