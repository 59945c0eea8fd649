//! Parsed heads as the `http` crate's types, without copying: names become
//! `HeaderName`s (well-known ones allocate nothing), values and the target
//! are slices of the head's frozen bytes. What the `http` types cannot keep
//! — the fields' received case and order, the reason phrase — stays
//! available through the [`ReceivedHead`] extension, re-read from the same
//! bytes only when asked for.

use bytes::Bytes;
use gruvi_wire::{
    Fields, Limits, RequestHead, ResponseHead, Status, parse_request, parse_response,
};
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, StatusCode, Uri};

/// The head of a received message exactly as it arrived, put in the
/// extensions of every request the server hands to the application and of
/// every response the client returns.
///
/// The `http` types lower-case field names; this keeps the received case,
/// order and duplicates (what a proxy or a signature check needs), and a
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

/// Field names of the last head converted, by position: a peer sends the
/// same fields in the same order on each message of a connection, so most
/// names are found here by one comparison of the received bytes instead of
/// being looked up and lower-cased again.
#[derive(Debug, Default)]
pub(crate) struct NameCache {
    /// The received names, one after the other.
    raw: Vec<u8>,
    /// Where each name ends in `raw`, and its `HeaderName`.
    names: Vec<(usize, HeaderName)>,
}

impl NameCache {
    /// Names a connection remembers at most (the rest are looked up).
    const MAX_NAMES: usize = 32;
    /// Bytes of names it remembers at most.
    const MAX_BYTES: usize = 1024;

    /// The `HeaderName` of the `index`th field, received as `name`.
    fn name(&mut self, index: usize, name: &[u8]) -> Result<HeaderName, Unrepresentable> {
        let start = match index.checked_sub(1) {
            None => 0,
            Some(before) => match self.names.get(before) {
                Some(&(end, _)) => end,
                None => return HeaderName::from_bytes(name).map_err(|_| Unrepresentable),
            },
        };
        if let Some((end, known)) = self.names.get(index) {
            if self.raw.get(start..*end) == Some(name) {
                return Ok(known.clone());
            }
        }
        let looked_up = HeaderName::from_bytes(name).map_err(|_| Unrepresentable)?;
        // This field differs from the last head's: what followed it there
        // is forgotten, and this one remembered in its place.
        self.names.truncate(index);
        self.raw.truncate(start);
        if index < Self::MAX_NAMES && start + name.len() <= Self::MAX_BYTES {
            self.raw.extend_from_slice(name);
            self.names.push((self.raw.len(), looked_up.clone()));
        }
        Ok(looked_up)
    }
}

/// Converts a connection's received heads into `http` types, reusing what
/// one conversion leaves for the next: the names of its fields, and header
/// maps given back emptied (the responses', after their heads are
/// written), so the next heads fill them without allocating.
#[derive(Debug, Default)]
pub(crate) struct Converter {
    names: NameCache,
    /// Emptied maps, at most [`MAX_SPARE_MAPS`] holding at most
    /// [`MAX_SPARE_CAPACITY`] fields between them: pipelined requests are
    /// converted in a batch before their responses give maps back, so one
    /// would serve only the first of each batch.
    spare: Vec<HeaderMap>,
    /// The capacities of the maps in `spare`, summed.
    spare_capacity: usize,
    /// Put a [`ReceivedHead`] in the extensions of every converted head.
    received_head: bool,
}

/// A header map given back larger than this many fields is not kept.
const MAX_SPARE_FIELDS: usize = 64;

/// Header maps kept for the next heads at most: the server's default
/// pipeline depth, which a client answering one response at a time never
/// comes near.
const MAX_SPARE_MAPS: usize = 16;

/// Fields the kept maps may hold between them: what an idle connection
/// keeps stays about the size of its read buffer (a map's field costs
/// about 100 bytes), however large the maps given back were.
const MAX_SPARE_CAPACITY: usize = 128;

impl Converter {
    pub(crate) fn new(received_head: bool) -> Converter {
        Converter {
            received_head,
            ..Converter::default()
        }
    }

    /// Keeps `map`, emptied, for a next head.
    pub(crate) fn recycle(&mut self, mut map: HeaderMap) {
        // `len` counts every value (repeated names' extra ones too, which
        // `capacity` does not): a map that held many is not kept.
        // A map that never allocated saves nothing.
        let capacity = map.capacity();
        if self.spare.len() < MAX_SPARE_MAPS
            && capacity > 0
            && capacity <= MAX_SPARE_FIELDS
            && map.len() <= MAX_SPARE_FIELDS
            && self.spare_capacity + capacity <= MAX_SPARE_CAPACITY
        {
            map.clear();
            self.spare_capacity += capacity;
            self.spare.push(map);
        }
    }

    fn header_map(&mut self, fields: &Fields, bytes: &Bytes) -> Result<HeaderMap, Unrepresentable> {
        let mut map = match self.spare.pop() {
            Some(mut map) => {
                self.spare_capacity -= map.capacity();
                map.reserve(fields.len());
                map
            }
            None => HeaderMap::with_capacity(fields.len()),
        };
        for (index, field) in fields.iter().enumerate() {
            let name = self.names.name(index, field.name(bytes))?;
            // Zero-copy: a `Bytes` slice becomes the value as it is.
            // SAFETY: `HeaderValue` requires every byte to be HTAB or at least
            // 0x20 and not DEL. The parser ends a field value at the first
            // other byte (`skip_text_bytes`) and accepts HTAB alone of them,
            // and unfolding (responses) replaces each fold with spaces. Debug
            // builds check again (the conformance corpus and the fuzz bodies
            // run there).
            let value =
                unsafe { HeaderValue::from_maybe_shared_unchecked(field.value_bytes(bytes)) };
            map.append(name, value);
        }
        Ok(map)
    }

    /// Gives `request`, new, the head `head` (read from `bytes`). Filled in
    /// place rather than returned: a request is a few hundred bytes, and
    /// each move on its way to the application is a copy.
    pub(crate) fn fill_request<B>(
        &mut self,
        head: &RequestHead,
        bytes: &Bytes,
        request: &mut http::Request<B>,
    ) -> Result<(), Unrepresentable> {
        // A new request is `GET /` already: the commonest method and target
        // are kept as they are, not looked up or parsed again.
        let method = head.method().of(bytes);
        if method != b"GET" {
            *request.method_mut() = Method::from_bytes(method).map_err(|_| Unrepresentable)?;
        }
        let target = head.target().of(bytes);
        if target != b"/" {
            *request.uri_mut() =
                Uri::from_maybe_shared(head.target().slice(bytes)).map_err(|_| Unrepresentable)?;
        }
        *request.version_mut() = head.version().into();
        put_headers(
            request.headers_mut(),
            self.header_map(head.fields(), bytes)?,
        );
        if self.received_head {
            request.extensions_mut().insert(ReceivedHead {
                bytes: bytes.clone(),
                role: Role::Request,
            });
        }
        Ok(())
    }

    /// A response head as `http::Response<B>`.
    pub(crate) fn response<B>(
        &mut self,
        head: &ResponseHead,
        bytes: &Bytes,
        body: B,
    ) -> Result<http::Response<B>, Unrepresentable> {
        let status = StatusCode::from_u16(head.status()).map_err(|_| Unrepresentable)?;
        let headers = self.header_map(head.fields(), bytes)?;
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        *response.version_mut() = head.version().into();
        put_headers(response.headers_mut(), headers);
        if self.received_head {
            response.extensions_mut().insert(ReceivedHead {
                bytes: bytes.clone(),
                role: Role::Response,
            });
        }
        Ok(response)
    }
}

/// Puts `headers` in a new message's place of its empty map. That map
/// never allocated (`HeaderMap::new` does not), so it is forgotten rather
/// than dropped: dropping walks its empty parts, tens of instructions on
/// every message for nothing.
fn put_headers(place: &mut HeaderMap, headers: HeaderMap) {
    let empty = std::mem::replace(place, headers);
    if empty.capacity() == 0 {
        std::mem::forget(empty);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gruvi_wire::{Limits, parse_request};
    use proptest::prelude::*;

    /// `fields` as a request head.
    fn head(fields: &[(&str, &str)]) -> Bytes {
        let mut head = String::from("GET / HTTP/1.1\r\n");
        for (name, value) in fields {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        Bytes::from(head)
    }

    fn convert(converter: &mut Converter, bytes: &Bytes) -> http::Request<()> {
        let Ok(Status::Complete(parsed, _)) = parse_request(bytes, &Limits::default()) else {
            panic!("not a complete request: {bytes:?}");
        };
        let mut request = http::Request::new(());
        converter
            .fill_request(&parsed, bytes, &mut request)
            .expect("representable");
        request
    }

    /// The fields as a fresh lookup names them, in order.
    fn expected(fields: &[(&str, &str)]) -> Vec<(HeaderName, String)> {
        fields
            .iter()
            .map(|(n, v)| (HeaderName::from_bytes(n.as_bytes()).unwrap(), v.to_string()))
            .collect()
    }

    fn got(request: &http::Request<()>) -> Vec<(HeaderName, String)> {
        request
            .headers()
            .iter()
            .map(|(n, v)| (n.clone(), v.to_str().unwrap().to_owned()))
            .collect()
    }

    #[test]
    fn names_are_right_whatever_the_order_and_case_of_the_last_head() {
        let heads: [&[(&str, &str)]; 5] = [
            &[("Host", "a"), ("Accept", "*/*"), ("X-One", "1")],
            &[("Host", "a"), ("Accept", "*/*"), ("X-One", "1")],
            &[
                ("Host", "a"),
                ("X-One", "1"),
                ("Accept", "*/*"),
                ("X-Two", "2"),
            ],
            &[("HOST", "a"), ("x-one", "1")],
            &[("Host", "a")],
        ];
        let mut converter = Converter::new(false);
        for fields in heads {
            let request = convert(&mut converter, &head(fields));
            let mut want = expected(fields);
            let mut have = got(&request);
            want.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
            have.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
            assert_eq!(have, want, "{fields:?}");
        }
    }

    #[test]
    fn a_recycled_map_brings_nothing_of_its_last_message() {
        let mut converter = Converter::new(false);
        let mut response_fields = HeaderMap::new();
        response_fields.insert("set-cookie", HeaderValue::from_static("secret=1"));
        response_fields.insert("x-private", HeaderValue::from_static("yes"));
        converter.recycle(response_fields);
        let request = convert(&mut converter, &head(&[("Host", "a")]));
        assert_eq!(got(&request), expected(&[("Host", "a")]));
    }

    #[test]
    fn a_batch_of_pipelined_requests_reuses_the_maps_of_the_last_batch() {
        let mut converter = Converter::new(false);
        let batch = MAX_SPARE_MAPS + 2;
        // A batch's responses give their maps back; the next batch's
        // requests fill them, up to the number kept.
        for _ in 0..batch {
            // As a handler makes them: a first insert sizes the map.
            let mut response_fields = HeaderMap::new();
            response_fields.insert("x-last", HeaderValue::from_static("batch"));
            converter.recycle(response_fields);
        }
        assert_eq!(converter.spare.len(), MAX_SPARE_MAPS);
        let requests: Vec<_> = (0..batch)
            .map(|_| convert(&mut converter, &head(&[("Host", "a")])))
            .collect();
        let reused = requests
            .iter()
            .filter(|request| request.headers().capacity() > 1)
            .count();
        assert_eq!(reused, MAX_SPARE_MAPS);
        for request in &requests {
            assert_eq!(got(request), expected(&[("Host", "a")]));
        }
    }

    #[test]
    fn the_method_and_target_a_new_request_has_are_kept_and_others_set() {
        let mut converter = Converter::new(false);
        let cases = [
            ("GET", "/"),
            ("GET", "/a?b"),
            ("POST", "/"),
            ("OPTIONS", "*"),
            ("CONNECT", "h:1"),
            ("GET", "http://h/x"),
            ("PURGE", "/"),
        ];
        for (method, target) in cases {
            let bytes = Bytes::from(format!("{method} {target} HTTP/1.1\r\nHost: h:1\r\n\r\n"));
            let request = convert(&mut converter, &bytes);
            assert_eq!(request.method().as_str(), method);
            assert_eq!(request.uri(), &target.parse::<Uri>().unwrap());
            assert_eq!(request.uri().to_string(), target);
        }
    }

    #[test]
    fn the_maps_kept_hold_a_bounded_number_of_fields_between_them() {
        let mut converter = Converter::new(false);
        let large = || HeaderMap::with_capacity(MAX_SPARE_FIELDS * 3 / 4);
        for _ in 0..MAX_SPARE_MAPS {
            converter.recycle(large());
        }
        let kept = converter.spare.len();
        let capacity: usize = converter.spare.iter().map(HeaderMap::capacity).sum();
        assert!(
            kept >= 1 && capacity <= MAX_SPARE_CAPACITY,
            "{kept} maps, {capacity} fields"
        );
        assert_eq!(capacity, converter.spare_capacity);
        // Taking one makes room for one as large.
        convert(&mut converter, &head(&[("Host", "a")]));
        assert_eq!(converter.spare.len(), kept - 1);
        converter.recycle(large());
        assert_eq!(converter.spare.len(), kept);
        let capacity: usize = converter.spare.iter().map(HeaderMap::capacity).sum();
        assert_eq!(capacity, converter.spare_capacity);
    }

    #[test]
    fn a_large_map_is_not_kept() {
        let mut converter = Converter::new(false);
        let mut large = HeaderMap::new();
        for i in 0..MAX_SPARE_FIELDS + 1 {
            large.insert(
                HeaderName::from_bytes(format!("x-{i}").as_bytes()).unwrap(),
                HeaderValue::from_static("v"),
            );
        }
        converter.recycle(large);
        assert!(converter.spare.is_empty());
    }

    #[test]
    fn a_map_of_many_repeated_values_is_not_kept() {
        let mut converter = Converter::new(false);
        let mut repeated = HeaderMap::new();
        for _ in 0..MAX_SPARE_FIELDS + 1 {
            repeated.append("set-cookie", HeaderValue::from_static("a=b"));
        }
        converter.recycle(repeated);
        assert!(converter.spare.is_empty());
    }

    proptest! {
        /// Any sequence of heads on one connection converts as each would
        /// on its own.
        #[test]
        fn a_connection_converts_each_head_as_a_fresh_converter_would(
            heads in prop::collection::vec(
                prop::collection::vec(
                    (
                        prop::sample::select(vec!["Accept", "ACCEPT", "X-A", "x-a", "X-Bb", "Cookie", "Te"]),
                        "[a-z]{0,3}",
                    ),
                    0..8,
                ),
                1..6,
            )
        ) {
            let mut converter = Converter::new(false);
            for fields in &heads {
                // One Host, which HTTP/1.1 requires, at any place.
                let mut fields: Vec<(&str, &str)> =
                    fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
                fields.insert(fields.len() / 2, ("Host", "h"));
                let bytes = head(&fields);
                let request = convert(&mut converter, &bytes);
                let fresh = convert(&mut Converter::new(false), &bytes);
                prop_assert_eq!(got(&request), got(&fresh));
                converter.recycle(request.into_parts().0.headers);
            }
        }
    }
}
