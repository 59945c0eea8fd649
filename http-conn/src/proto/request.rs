//! Requests to send, decided once: their target form, `Host`, framing
//! fields, `Expect`, HTTP/1.0 rules and whether the connection can carry
//! another exchange after them — checked and written as a head before they
//! reach a connection (in the caller's task, so a bad request fails at
//! once and nothing of it is ever written).

use bytes::{Bytes, BytesMut};
use gruvi_wire::{
    BodyFraming, HeadText, HeadWriter, Version, check_application_field, check_field,
    is_continue_expectation, is_te_trailers, latin1_text, list_contains, parse_content_length,
};

use super::{BodySize, LocalError};

/// A request head checked and written, ready for
/// [`Client::send_request`](super::Client::send_request), with what the
/// connection needs to know of it.
#[derive(Clone, Debug)]
pub struct PreparedRequest {
    pub(super) head: Bytes,
    pub(super) method: RequestMethod,
    pub(super) framing: BodyFraming,
    pub(super) upgrade: bool,
    pub(super) expects_continue: bool,
    /// The request asks to close, upgrades, connects or is HTTP/1.0: the
    /// connection carries nothing after it.
    pub(super) last: bool,
}

/// The methods whose responses are framed differently (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RequestMethod {
    Head,
    Connect,
    Other,
}

impl RequestMethod {
    pub(super) fn as_bytes(self) -> &'static [u8] {
        match self {
            RequestMethod::Head => b"HEAD",
            RequestMethod::Connect => b"CONNECT",
            RequestMethod::Other => b"GET",
        }
    }
}

impl PreparedRequest {
    /// A request from the `http` types: the target is the URI's path and
    /// query (`/` when empty), or its authority for CONNECT (RFC 9112
    /// §3.2); `Host` is the URI's authority as written, without userinfo
    /// (RFC 9110 §7.2), unless `fields` has one. `fields` are the caller's
    /// (see [`new`](Self::new) for what they may hold).
    ///
    /// `through_proxy` sends the target in absolute-form (RFC 9112 §3.2.2),
    /// as a request to an HTTP proxy must be.
    pub fn from_http(
        method: &http::Method,
        uri: &http::Uri,
        version: Version,
        fields: RequestFields<'_>,
        body: BodySize,
        through_proxy: bool,
    ) -> Result<PreparedRequest, LocalError> {
        let host = uri.authority().map(|authority| {
            let text = authority.as_str();
            text.rsplit_once('@').map_or(text, |(_, host)| host)
        });
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let absolute;
        let target = if *method == http::Method::CONNECT {
            uri.authority().map_or("", |a| a.as_str())
        } else if let (true, Some(scheme), Some(host)) = (through_proxy, uri.scheme_str(), host) {
            absolute = format!("{scheme}://{host}{path}");
            &absolute
        } else {
            path
        };
        Self::write(
            method.as_str(),
            target,
            version,
            fields,
            Host::Derived(host),
            body,
        )
    }

    /// A request whose target is given as it goes on the wire (origin-form
    /// `/path?query`, authority-form for CONNECT, absolute-form, `*`).
    ///
    /// `fields` are checked (ISO-8859-1 text, valid names and values) and
    /// may hold no hop-by-hop field but `Connection: close`, `TE: trailers`
    /// (the connection adds `Connection: TE`), with `Upgrade` what an
    /// upgrade needs, and with a target for a proxy (CONNECT's
    /// authority-form or absolute-form) `Proxy-Authorization`. A
    /// Content-Length among them must be a plain decimal that agrees with
    /// `body`; with a body of unknown size it makes the body that long
    /// (checked as it is sent). The framing fields are the
    /// connection's: Content-Length for an exact size (and `0` for an
    /// empty POST, PUT or PATCH, RFC 9110 §8.6), else chunked — which
    /// HTTP/1.0 does not have (an error there).
    pub fn new<N, V>(
        method: &str,
        target: &str,
        version: Version,
        fields: &[(N, V)],
        body: BodySize,
    ) -> Result<PreparedRequest, LocalError>
    where
        N: HeadText,
        V: HeadText,
    {
        Self::write(method, target, version, Pairs(fields), Host::AsGiven, body)
    }

    /// How the request's body is framed.
    pub fn body_framing(&self) -> BodyFraming {
        self.framing
    }

    /// The head as it will be written.
    pub fn head(&self) -> &Bytes {
        &self.head
    }

    fn write<I, N, V>(
        method: &str,
        target: &str,
        version: Version,
        fields: I,
        host: Host<'_>,
        body: BodySize,
    ) -> Result<PreparedRequest, LocalError>
    where
        I: IntoIterator<Item = (N, V)> + Copy,
        N: HeadText,
        V: HeadText,
    {
        // Two facts about the fields decide how the others are checked and
        // where `Host` goes (first, RFC 9110 §7.2): whether they ask to
        // upgrade, and whether they carry a Host.
        let (mut upgrade, mut has_host) = (false, false);
        // The head's size, to allocate it once: the start line, the fields,
        // Host, the framing and connection fields we may add.
        let mut size = method.len() + target.len() + 64;
        for (name, value) in fields {
            let name = name.head_bytes().unwrap_or_default();
            upgrade |= name.eq_ignore_ascii_case(b"upgrade");
            has_host |= name.eq_ignore_ascii_case(b"host");
            size += name.len() + value.head_bytes().map_or(0, |v| v.len()) + 4;
        }
        if let (Host::Derived(Some(host)), false) = (&host, has_host) {
            size += host.len() + 8;
        }
        let mut buf = BytesMut::with_capacity(size);
        let mut head =
            HeadWriter::request(&mut buf, method, target, version).map_err(LocalError::Encode)?;
        match host {
            // RFC 9112 §3.2: Host is the target URI's authority.
            // (An authority of `http::Uri` is visible ASCII: a valid value.)
            Host::Derived(Some(host)) if !has_host => {
                head.trusted_field(b"Host", host.as_bytes());
            }
            // Without an authority or a Host of the caller's, the request
            // goes as given (RFC 9112 §3.2 requires Host of HTTP/1.1: the
            // server will say so).
            _ => {}
        }
        // A CONNECT or an absolute-form target is addressed to a proxy
        // (RFC 9112 §3.2.2, §3.2.3), which may ask for credentials.
        let to_proxy = method == "CONNECT" || !(target.starts_with('/') || target == "*");
        let said = write_fields(&mut head, fields, upgrade, to_proxy)?;
        // A body of unknown size sent with the caller's Content-Length is
        // that many bytes (checked as it goes), as a proxy would send it.
        let size = match (body, said.content_length) {
            (BodySize::Unknown, Some(n)) => Some(n),
            (BodySize::Empty, _) => Some(0),
            (BodySize::Exact(n), _) => Some(n),
            (BodySize::Unknown, None) => None,
        };
        if let (Some(declared), Some(size)) = (said.content_length, size) {
            if declared != size {
                return Err(LocalError::ContentLengthMismatch {
                    declared: declared.to_string(),
                    body: Some(size),
                });
            }
        }
        let framing = match size {
            Some(0) => {
                // RFC 9110 §8.6: a request that usually has content says 0.
                if matches!(method, "POST" | "PUT" | "PATCH") {
                    head.content_length(0);
                }
                BodyFraming::Empty
            }
            Some(n) => {
                head.content_length(n);
                BodyFraming::Length(n)
            }
            None if version == Version::Http10 => return Err(LocalError::UnknownSizeOnHttp10),
            None => {
                head.trusted_field(b"Transfer-Encoding", b"chunked");
                BodyFraming::Chunked
            }
        };
        head.finish();
        let method = match method {
            "HEAD" => RequestMethod::Head,
            "CONNECT" => RequestMethod::Connect,
            _ => RequestMethod::Other,
        };
        Ok(PreparedRequest {
            head: buf.freeze(),
            method,
            framing,
            upgrade,
            // A held-back body needs a body to hold, and HTTP/1.1.
            expects_continue: said.expects_continue
                && framing != BodyFraming::Empty
                && version == Version::Http11,
            // What follows a request that closes, upgrades or connects is
            // not ours to frame; HTTP/1.0 closes (we ask no keep-alive).
            last: said.close
                || upgrade
                || method == RequestMethod::Connect
                || version == Version::Http10,
        })
    }
}

/// What a request's fields say that the connection acts on.
struct FieldsSay {
    close: bool,
    expects_continue: bool,
    content_length: Option<u64>,
}

/// Checks and writes the caller's fields (all but Content-Length, which is
/// the connection's to write), with `Connection: TE` when they accept
/// trailers.
fn write_fields<I, N, V>(
    head: &mut HeadWriter<'_>,
    fields: I,
    upgrade: bool,
    to_proxy: bool,
) -> Result<FieldsSay, LocalError>
where
    I: IntoIterator<Item = (N, V)>,
    N: HeadText,
    V: HeadText,
{
    let mut said = FieldsSay {
        close: false,
        expects_continue: false,
        content_length: None,
    };
    let mut asks_trailers = false;
    for (name, value) in fields {
        let (name, value) = check_field(&name, &value).map_err(LocalError::Encode)?;
        // RFC 9110 §10.1.4: a client may say it accepts trailers with `TE:
        // trailers` (the only TE value it can mean over HTTP/1.1 without
        // transfer codings of its own); `Connection: TE` is ours.
        if is_te_trailers(&name, &value) {
            asks_trailers = true;
            head.trusted_field(&name, &value);
            continue;
        }
        // RFC 9110 §11.7.2: the client of a proxy gives its credentials.
        let to_proxy = to_proxy && name.eq_ignore_ascii_case(b"proxy-authorization");
        if !to_proxy {
            check_application_field(&name, &value, upgrade).map_err(LocalError::Encode)?;
        }
        if name.eq_ignore_ascii_case(b"connection") {
            said.close |= list_contains(&value, b"close");
        } else if name.eq_ignore_ascii_case(b"expect") {
            said.expects_continue |= is_continue_expectation(&value);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            // The framing field is ours to write; the caller's must be one
            // plain decimal, however many lines carry it.
            let declared = said.content_length;
            let n = parse_content_length(&value)
                .filter(|n| declared.is_none_or(|d| d == *n))
                .ok_or_else(|| LocalError::ContentLengthMismatch {
                    declared: latin1_text(&value),
                    body: None,
                })?;
            said.content_length = Some(n);
            continue;
        }
        head.trusted_field(&name, &value);
    }
    if asks_trailers {
        head.trusted_field(b"Connection", b"TE");
    }
    Ok(said)
}

/// Where a request's `Host` comes from when its fields have none.
enum Host<'a> {
    /// From the target URI's authority (`None`: it has none).
    Derived(Option<&'a str>),
    /// The caller wrote the target; its fields say everything.
    AsGiven,
}

/// The fields of a request from the `http` types: its header map, or the
/// fields exactly as the caller gave them (order, case, duplicates).
#[derive(Clone, Copy, Debug)]
pub enum RequestFields<'a> {
    /// The request's header map.
    Map(&'a http::HeaderMap),
    /// Name and value pairs, sent in this order and case.
    Given(&'a [(Bytes, Bytes)]),
}

impl<'a> IntoIterator for RequestFields<'a> {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = FieldsIter<'a>;

    fn into_iter(self) -> FieldsIter<'a> {
        match self {
            RequestFields::Map(map) => FieldsIter(Fields::Map(map.iter())),
            RequestFields::Given(given) => FieldsIter(Fields::Given(given.iter())),
        }
    }
}

/// The iterator of [`RequestFields`]: `(name, value)` byte pairs.
#[derive(Debug)]
pub struct FieldsIter<'a>(Fields<'a>);

#[derive(Debug)]
enum Fields<'a> {
    Map(http::header::Iter<'a, http::HeaderValue>),
    Given(std::slice::Iter<'a, (Bytes, Bytes)>),
}

impl<'a> Iterator for FieldsIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            Fields::Map(iter) => iter
                .next()
                .map(|(name, value)| (name.as_str().as_bytes(), value.as_bytes())),
            Fields::Given(iter) => iter.next().map(|(name, value)| (&name[..], &value[..])),
        }
    }
}

/// A slice of pairs, walked as pairs of references (twice: see `write`).
struct Pairs<'a, N, V>(&'a [(N, V)]);

// Copied by hand: a derive would ask for `N: Copy, V: Copy`.
impl<N, V> Clone for Pairs<'_, N, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<N, V> Copy for Pairs<'_, N, V> {}

impl<'a, N, V> IntoIterator for Pairs<'a, N, V> {
    type Item = (&'a N, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (N, V)>, fn(&'a (N, V)) -> (&'a N, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(name, value)| (name, value))
    }
}
