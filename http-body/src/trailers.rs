//! Trailer fields: received ones as the application sees them, and the rule
//! for which fields may not be trailers at all (RFC 9110 §6.5.1).
//!
//! Trailers never change framing or routing. A received field that must not
//! be a trailer (framing, routing, request modifiers, authentication,
//! response control, payload processing, connection management) is kept out
//! of [`Trailers`]: it is dropped, and its name is reported by
//! [`Trailers::discarded`]. Sending such a field is an error (the encoders
//! check [`is_forbidden_trailer`]).

use bytes::Bytes;

/// Fields that must not be sent as trailers, lowercase (RFC 9110 §6.5.1,
/// with the hop-by-hop fields of RFC 9110 §7.6.1).
pub const FORBIDDEN_TRAILERS: &[&str] = &[
    // Message framing.
    "content-length",
    "transfer-encoding",
    "trailer",
    "trailers", // RFC 2616 §13.5.1's spelling
    "te",
    // Routing.
    "host",
    // Request modifiers: controls and conditionals.
    "cache-control",
    "expect",
    "max-forwards",
    "pragma",
    "range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
    // Authentication.
    "authorization",
    "proxy-authorization",
    "www-authenticate",
    "proxy-authenticate",
    "cookie",
    "set-cookie",
    // Response control data.
    "age",
    "date",
    "expires",
    "location",
    "retry-after",
    "vary",
    "warning",
    // Payload processing.
    "content-encoding",
    "content-type",
    "content-range",
    // Connection management.
    "connection",
    "keep-alive",
    "upgrade",
    "proxy-connection",
];

/// Returns `true` if `name` must not be a trailer (ASCII case-insensitive).
pub fn is_forbidden_trailer(name: &[u8]) -> bool {
    FORBIDDEN_TRAILERS
        .iter()
        .any(|forbidden| name.eq_ignore_ascii_case(forbidden.as_bytes()))
}

/// The trailer fields of a received body, in received order and case,
/// duplicates kept; names and values are zero-copy slices of the read buffer
/// (but for a response's value folded with obs-fold: that one is an unfolded
/// copy).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trailers {
    fields: Vec<(Bytes, Bytes)>,
    discarded: Vec<Bytes>,
}

impl Trailers {
    pub(crate) const EMPTY: Trailers = Trailers {
        fields: Vec::new(),
        discarded: Vec::new(),
    };

    /// No trailers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a received field, or records its name as discarded when it must
    /// not be a trailer.
    pub fn push_received(&mut self, name: Bytes, value: Bytes) {
        if is_forbidden_trailer(&name) {
            self.discarded.push(name);
        } else {
            self.fields.push((name, value));
        }
    }

    /// The fields, as `(name, value)` pairs.
    pub fn fields(&self) -> &[(Bytes, Bytes)] {
        &self.fields
    }

    /// The value of the first field named `name` (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&Bytes> {
        gruvi_wire::get_header(&self.fields, name, None)
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Returns `true` if there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Names of received fields that were dropped because they must not be
    /// trailers, in received order.
    pub fn discarded(&self) -> &[Bytes] {
        &self.discarded
    }

    /// The fields as an [`http::HeaderMap`] (the `http-body` trailers frame):
    /// names lowercased by `http`, order of distinct names not kept.
    pub fn to_header_map(&self) -> http::HeaderMap {
        let mut map = http::HeaderMap::with_capacity(self.fields.len());
        for (name, value) in &self.fields {
            // Both were validated by the trailer parser (token names, field
            // values), so these conversions cannot fail; skip rather than
            // panic if they ever did.
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name),
                http::HeaderValue::from_maybe_shared(value.clone()),
            ) {
                map.append(name, value);
            }
        }
        map
    }
}
