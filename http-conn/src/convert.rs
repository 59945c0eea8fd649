//! Parsed heads as the `http` crate's types, without copying: names become
//! `HeaderName`s (well-known ones allocate nothing), values and the target
//! are slices of the head's frozen bytes. What the `http` types cannot keep
//! — the fields' received case and order, the reason phrase — stays
//! available through the [`ReceivedHead`] extension, re-read from the same
//! bytes only when asked for.

use bytes::Bytes;
use gruvi_wire::{
    Fields, Limits, RequestHead, ResponseHead, Status, Version, parse_request, parse_response,
};
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, StatusCode, Uri};

/// The head of a received message exactly as it arrived, put in the
/// extensions of every request the server hands to the application and of
/// every response the client returns.
///
/// The `http` types lower-case field names; this keeps the received case,
/// order and duplicates (the seed's `headers` list, a WSGI environ), and a
/// response's reason phrase.
#[derive(Clone, Debug)]
pub struct ReceivedHead {
    bytes: Bytes,
    role: Role,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Request,
    Response,
}

/// Limits for re-reading a head that already passed the connection's own
/// (stricter) ones: nothing it holds can cross these.
const REREAD: Limits = Limits {
    max_head_bytes: usize::MAX,
    max_request_line_bytes: usize::MAX,
    max_fields: 65_535,
    allow_bare_lf_in_requests: true,
};

impl ReceivedHead {
    /// The head's bytes, from the start line to the empty line ending it.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The fields in received order and case, duplicates kept; a value
    /// folded over several lines (responses only) comes unfolded. Slices of
    /// the head's bytes; the list itself is built on each call.
    pub fn fields(&self) -> Vec<(Bytes, Bytes)> {
        let collect = |fields: &Fields| {
            fields
                .iter()
                .map(|f| (f.name_span().slice(&self.bytes), f.value_bytes(&self.bytes)))
                .collect()
        };
        match self.role {
            Role::Request => match parse_request(&self.bytes, &REREAD) {
                Ok(Status::Complete(head, _)) => collect(head.fields()),
                _ => Vec::new(),
            },
            Role::Response => match parse_response(&self.bytes, &REREAD) {
                Ok(Status::Complete(head, _)) => collect(head.fields()),
                _ => Vec::new(),
            },
        }
    }

    /// A request's target exactly as received (`/path?query`, an absolute
    /// URL, `host:port` or `*`); `None` for a response.
    pub fn target(&self) -> Option<Bytes> {
        match (self.role, parse_request(&self.bytes, &REREAD)) {
            (Role::Request, Ok(Status::Complete(head, _))) => {
                Some(head.target().slice(&self.bytes))
            }
            _ => None,
        }
    }

    /// A response's reason phrase (possibly empty); `None` for a request.
    pub fn reason(&self) -> Option<Bytes> {
        match (self.role, parse_response(&self.bytes, &REREAD)) {
            (Role::Response, Ok(Status::Complete(head, _))) => {
                Some(head.reason().slice(&self.bytes))
            }
            _ => None,
        }
    }
}

/// Why a head accepted by our parser has no `http` equivalent (the `http`
/// crate is stricter in a few places, for example about some target bytes).
#[derive(Debug)]
pub(crate) struct Unrepresentable;

fn version(v: Version) -> http::Version {
    match v {
        Version::Http10 => http::Version::HTTP_10,
        Version::Http11 => http::Version::HTTP_11,
    }
}

fn header_map(fields: &Fields, bytes: &Bytes) -> Result<HeaderMap, Unrepresentable> {
    let mut map = HeaderMap::with_capacity(fields.len());
    for field in fields {
        let name = HeaderName::from_bytes(field.name(bytes)).map_err(|_| Unrepresentable)?;
        // Zero-copy: a `Bytes` slice becomes the value as it is.
        // SAFETY: `HeaderValue` requires every byte to be HTAB or at least
        // 0x20 and not DEL. The parser ends a field value at the first
        // other byte (`skip_text_bytes`) and accepts HTAB alone of them,
        // and unfolding (responses) replaces each fold with spaces. Debug
        // builds check again (the conformance corpus and the fuzz bodies
        // run there).
        let value = unsafe { HeaderValue::from_maybe_shared_unchecked(field.value_bytes(bytes)) };
        map.append(name, value);
    }
    Ok(map)
}

/// A request head as `http::Request<B>`, with [`ReceivedHead`] in its
/// extensions when `received_head`.
pub(crate) fn request<B>(
    head: &RequestHead,
    bytes: &Bytes,
    body: B,
    received_head: bool,
) -> Result<http::Request<B>, Unrepresentable> {
    let method = Method::from_bytes(head.method().of(bytes)).map_err(|_| Unrepresentable)?;
    let uri = Uri::from_maybe_shared(head.target().slice(bytes)).map_err(|_| Unrepresentable)?;
    let headers = header_map(head.fields(), bytes)?;
    let mut request = http::Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version(head.version());
    *request.headers_mut() = headers;
    if received_head {
        request.extensions_mut().insert(ReceivedHead {
            bytes: bytes.clone(),
            role: Role::Request,
        });
    }
    Ok(request)
}

/// A response head as `http::Response<B>`, with [`ReceivedHead`] in its
/// extensions when `received_head`.
pub(crate) fn response<B>(
    head: &ResponseHead,
    bytes: &Bytes,
    body: B,
    received_head: bool,
) -> Result<http::Response<B>, Unrepresentable> {
    let status = StatusCode::from_u16(head.status()).map_err(|_| Unrepresentable)?;
    let headers = header_map(head.fields(), bytes)?;
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    *response.version_mut() = version(head.version());
    *response.headers_mut() = headers;
    if received_head {
        response.extensions_mut().insert(ReceivedHead {
            bytes: bytes.clone(),
            role: Role::Response,
        });
    }
    Ok(response)
}
