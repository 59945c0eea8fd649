//! The conformance corpus: what our server and our client make of exact
//! bytes, written down case by case from RFC 9112 and RFC 9110.
//!
//! The cases live in `tests/conformance/requests/*.cases` (what the server
//! makes of a client's bytes) and `tests/conformance/responses/*.cases`
//! (what the client makes of a server's bytes); the format is described in
//! `tests/conformance/README.md`. Every case runs through the sans-IO state
//! machine (`proto::Server`, `proto::Client`) fed whole, split in two at
//! every byte, and one byte at a time: every way of cutting the input must
//! give the outcome the case expects.

mod support;

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use gruvi_body::{ChunkedLimits, Trailers};
use gruvi_conn::proto::{
    BodySize, Client, ClientConfig, ClientEvent, ExchangeId, RequestId, Server, ServerConfig,
    ServerEvent,
};
use gruvi_wire::{BodyFraming, Field, Limits, Version, latin1_text};
use http::HeaderMap;

// ---------------------------------------------------------------------------
// The case files
// ---------------------------------------------------------------------------

/// One case: its input, its settings and what must come of it.
#[derive(Debug)]
struct Case {
    /// `file:line name`, for messages.
    origin: String,
    input: Vec<u8>,
    eof: bool,
    settings: Settings,
    /// Client cases: the requests sent before the input arrives.
    sends: Vec<Send>,
    /// The expectation lines, in order, already split into keyword and rest.
    expect: Vec<(String, String)>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Settings {
    limits: Limits,
    chunked: ChunkedLimits,
    pipeline_depth: Option<usize>,
    /// `Some(None)`: no body limit; `None`: the default one.
    max_body_bytes: Option<Option<u64>>,
}

#[derive(Clone, Debug)]
struct Send {
    method: String,
    target: String,
    version: Version,
    upgrade: bool,
}

/// Decodes the escapes of a case's text: `\r`, `\n`, `\t`, `\0`, `\\`,
/// `\s` (a space, for one that must stay visible at a line's end) and
/// `\xHH`.
fn unescape(text: &str, origin: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] != b'\\' {
            out.push(bytes[at]);
            at += 1;
            continue;
        }
        let escape = bytes.get(at + 1).copied();
        at += 2;
        out.push(match escape {
            Some(b'r') => b'\r',
            Some(b'n') => b'\n',
            Some(b't') => b'\t',
            Some(b'0') => 0,
            Some(b's') => b' ',
            Some(b'\\') => b'\\',
            Some(b'x') => {
                let hex = text
                    .get(at..at + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                at += 2;
                hex.unwrap_or_else(|| panic!("{origin}: bad \\x escape in {text:?}"))
            }
            other => panic!("{origin}: unknown escape {other:?} in {text:?}"),
        });
    }
    out
}

fn parse_cases(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut cases: Vec<Case> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line_origin = format!("{file}:{}", number + 1);
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix("case ") {
            let origin = format!("{line_origin} {}", name.trim());
            assert!(
                !cases
                    .iter()
                    .any(|c| c.origin.ends_with(&format!(" {}", name.trim()))),
                "{origin}: duplicate case name"
            );
            cases.push(Case {
                origin,
                input: Vec::new(),
                eof: false,
                settings: Settings::default(),
                sends: Vec::new(),
                expect: Vec::new(),
            });
            continue;
        }
        let case = cases
            .last_mut()
            .unwrap_or_else(|| panic!("{line_origin}: a line before the first `case`"));
        if let Some(bytes) = line.strip_prefix('>') {
            let bytes = bytes.strip_prefix(' ').unwrap_or(bytes);
            assert!(!case.eof, "{line_origin}: input after `eof`");
            case.input.extend(unescape(bytes, &line_origin));
            continue;
        }
        let (keyword, rest) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
        let rest = rest.trim_start();
        match keyword {
            "rfc" => {}
            "eof" => case.eof = true,
            "limit" => set_limit(&mut case.settings, rest, &line_origin),
            "send" => case.sends.push(parse_send(rest, &line_origin)),
            _ => case.expect.push((keyword.to_owned(), rest.to_owned())),
        }
    }
    for case in &cases {
        assert!(!case.expect.is_empty(), "{}: expects nothing", case.origin);
    }
    cases
}

fn set_limit(settings: &mut Settings, rest: &str, origin: &str) {
    let (name, value) = rest.split_once(' ').unwrap_or((rest, ""));
    let number = || -> usize {
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{origin}: `limit {name}` needs a number"))
    };
    match name {
        "head" => settings.limits.max_head_bytes = number(),
        "request-line" => settings.limits.max_request_line_bytes = number(),
        "fields" => settings.limits.max_fields = number(),
        "bare-lf" => settings.limits.allow_bare_lf_in_requests = true,
        "pipeline" => settings.pipeline_depth = Some(number()),
        "extensions" => settings.chunked.max_extension_bytes = number(),
        "trailer-bytes" => settings.chunked.trailers.max_head_bytes = number(),
        "trailer-fields" => settings.chunked.trailers.max_fields = number(),
        "body" if value.trim() == "none" => settings.max_body_bytes = Some(None),
        "body" => settings.max_body_bytes = Some(Some(number() as u64)),
        other => panic!("{origin}: unknown limit {other:?}"),
    }
}

/// `send METHOD TARGET [1.0] [upgrade]`
fn parse_send(rest: &str, origin: &str) -> Send {
    let mut words = rest.split_whitespace();
    let (Some(method), Some(target)) = (words.next(), words.next()) else {
        panic!("{origin}: `send METHOD TARGET [1.0] [upgrade]`");
    };
    let mut send = Send {
        method: method.to_owned(),
        target: target.to_owned(),
        version: Version::Http11,
        upgrade: false,
    };
    for word in words {
        match word {
            "1.0" => send.version = Version::Http10,
            "upgrade" => send.upgrade = true,
            other => panic!("{origin}: unknown send option {other:?}"),
        }
    }
    send
}

fn case_files(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/conformance")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "cases"))
        .collect();
    files.sort();
    files
}

// ---------------------------------------------------------------------------
// Splitting the input
// ---------------------------------------------------------------------------

/// Every way the corpus cuts an input: whole, in two at every byte, and
/// one byte at a time.
fn cuts(len: usize) -> Vec<(String, Vec<usize>)> {
    let mut all = vec![("whole".to_owned(), vec![len])];
    for at in 1..len {
        all.push((format!("split at {at}"), vec![at, len - at]));
    }
    if len > 1 {
        all.push(("byte by byte".to_owned(), vec![1; len]));
    }
    all
}

fn pieces<'a>(input: &'a [u8], sizes: &'a [usize]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut at = 0;
    sizes.iter().map(move |&size| {
        let piece = &input[at..at + size];
        at += size;
        piece
    })
}

// ---------------------------------------------------------------------------
// Outcomes, in the words of the case files
// ---------------------------------------------------------------------------

fn field_line(name: &[u8], value: &[u8]) -> String {
    format!("{}: {}", latin1_text(name), latin1_text(value))
}

fn trailer_lines(trailers: &Trailers) -> Vec<String> {
    trailers
        .fields()
        .iter()
        .map(|(name, value)| field_line(name, value))
        .collect()
}

fn head_fields<'a>(fields: impl Iterator<Item = &'a Field>, bytes: &[u8]) -> Vec<String> {
    fields
        .map(|field| field_line(field.name(bytes), &field.value(bytes)))
        .collect()
}

/// Compares what a message has with what its expectation lines say:
/// `field` lines must each be present (name without regard to case),
/// `fields N` is the exact count, `body` is exact (empty when absent) and
/// `trailer` lines are the exact list.
#[derive(Debug, Default)]
struct Message {
    fields: Vec<String>,
    body: Vec<u8>,
    trailers: Vec<String>,
}

impl Message {
    fn check(&self, lines: &[(String, String)], origin: &str) -> Result<(), String> {
        let mut expected_body = Vec::new();
        let mut expected_trailers = Vec::new();
        for (keyword, rest) in lines {
            match keyword.as_str() {
                "field" => {
                    let wanted = latin1_text(&unescape(rest, origin));
                    let (name, value) = wanted.split_once(": ").unwrap_or((&wanted, ""));
                    let found = self.fields.iter().any(|have| {
                        have.split_once(": ")
                            .is_some_and(|(n, v)| n.eq_ignore_ascii_case(name) && v == value)
                    });
                    if !found {
                        return Err(format!("no field `{wanted}` among {:?}", self.fields));
                    }
                }
                "fields" => {
                    let count: usize = rest.parse().map_err(|_| "`fields N`".to_owned())?;
                    if self.fields.len() != count {
                        return Err(format!(
                            "{} fields, not {count}: {:?}",
                            self.fields.len(),
                            self.fields
                        ));
                    }
                }
                "body" => expected_body.extend(unescape(rest, origin)),
                "trailer" => expected_trailers.push(latin1_text(&unescape(rest, origin))),
                _ => {}
            }
        }
        if self.body != expected_body {
            return Err(format!(
                "body {:?}, expected {:?}",
                latin1_text(&self.body),
                latin1_text(&expected_body)
            ));
        }
        if self.trailers != expected_trailers {
            return Err(format!(
                "trailers {:?}, expected {expected_trailers:?}",
                self.trailers
            ));
        }
        Ok(())
    }
}

/// Splits expectation lines into blocks, each starting at a line whose
/// keyword is in `starts`; lines before the first block are returned apart.
fn blocks<'a>(lines: &'a [(String, String)], starts: &[&str]) -> Vec<&'a [(String, String)]> {
    let mut out = Vec::new();
    let mut begin = None;
    for (at, (keyword, _)) in lines.iter().enumerate() {
        if starts.contains(&keyword.as_str()) {
            if let Some(b) = begin {
                out.push(&lines[b..at]);
            }
            begin = Some(at);
        }
    }
    if let Some(b) = begin {
        out.push(&lines[b..]);
    }
    out
}

fn flag(lines: &[(String, String)], keyword: &str) -> bool {
    lines.iter().any(|(k, _)| k == keyword)
}

fn value<'a>(lines: &'a [(String, String)], keyword: &str) -> Option<&'a str> {
    lines
        .iter()
        .find(|(k, _)| k == keyword)
        .map(|(_, rest)| rest.as_str())
}

/// Checks what became of the connection against the case's last line,
/// which must say (`open` or `closed`).
fn final_state(case: &Case, open: bool) -> Result<(), String> {
    let expected = match case.expect.last().map(|(k, _)| k.as_str()) {
        Some("open") => true,
        Some("closed") => false,
        _ => panic!("{}: the last line must be `open` or `closed`", case.origin),
    };
    if open == expected {
        Ok(())
    } else {
        Err(format!("the connection is open: {open}"))
    }
}

fn check_keywords(case: &Case, allowed: &[&str]) {
    for (keyword, _) in &case.expect {
        assert!(
            allowed.contains(&keyword.as_str()),
            "{}: unknown expectation `{keyword}` (known: {allowed:?})",
            case.origin
        );
    }
}

/// Runs every case of `kind` through `run` on every cut of its input and
/// reports all failures together.
fn run_corpus(kind: &str, minimum: usize, run: fn(&Case, &[usize]) -> Result<(), String>) {
    let mut total = 0;
    let mut failures = String::new();
    for file in case_files(kind) {
        for case in parse_cases(&file) {
            total += 1;
            for (cut, sizes) in cuts(case.input.len()) {
                if let Err(why) = run(&case, &sizes) {
                    let _ = writeln!(failures, "{} ({cut}): {why}", case.origin);
                    break;
                }
            }
        }
    }
    assert!(failures.is_empty(), "conformance failures:\n{failures}");
    assert!(
        total >= minimum,
        "only {total} {kind} cases; the corpus promises at least {minimum}"
    );
}

// ---------------------------------------------------------------------------
// The server side
// ---------------------------------------------------------------------------

/// A request as the application saw it.
#[derive(Debug, Default)]
struct SeenRequest {
    line: String,
    message: Message,
    keep_alive: bool,
    expects_continue: bool,
    upgrade: bool,
    framing: String,
    ended: bool,
    body_failed: bool,
}

#[derive(Debug, Default)]
struct ServerOutcome {
    requests: Vec<SeenRequest>,
    rejected: Option<u16>,
    /// Statuses of everything written, interim ones included.
    responses: Vec<u16>,
    open: bool,
}

/// Sun, 06 Nov 1994 08:49:37 GMT: every run writes the same bytes.
fn wall() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(784_111_777)
}

fn run_server(case: &Case, sizes: &[usize]) -> ServerOutcome {
    let defaults = ServerConfig::default();
    let config = ServerConfig {
        limits: case.settings.limits,
        chunked: case.settings.chunked,
        pipeline_depth: case
            .settings
            .pipeline_depth
            .unwrap_or(defaults.pipeline_depth),
        max_body_bytes: case
            .settings
            .max_body_bytes
            .unwrap_or(defaults.max_body_bytes),
        ..defaults
    };
    let now = Instant::now();
    let mut server = Server::new(config, now, wall());
    let mut outcome = ServerOutcome::default();
    let mut ids: Vec<RequestId> = Vec::new();
    let mut owed = VecDeque::new();
    let mut written = Vec::new();
    for piece in pieces(&case.input, sizes) {
        server.read_buf().extend_from_slice(piece);
        pump_server(
            &mut server,
            now,
            &mut outcome,
            &mut ids,
            &mut owed,
            &mut written,
        );
    }
    if case.eof {
        server.received_eof();
        pump_server(
            &mut server,
            now,
            &mut outcome,
            &mut ids,
            &mut owed,
            &mut written,
        );
    }
    let methods: Vec<Bytes> = outcome
        .requests
        .iter()
        .filter(|r| r.ended)
        .map(|r| Bytes::from(r.line.split(' ').next().unwrap_or("").to_owned()))
        .collect();
    outcome.responses = support::written_statuses(&written, &methods);
    outcome.open = !server.is_done();
    outcome
}

/// Takes every event, lets the application answer each request once its
/// body ended (200, empty), and collects what is written.
fn pump_server(
    server: &mut Server,
    now: Instant,
    outcome: &mut ServerOutcome,
    ids: &mut Vec<RequestId>,
    owed: &mut VecDeque<usize>,
    written: &mut Vec<u8>,
) {
    loop {
        let mut progressed = false;
        let mut wanted = Vec::new();
        while let Some(event) = server.poll_event(now) {
            progressed = true;
            match event {
                ServerEvent::Request(request) => {
                    let bytes = &request.bytes;
                    let head = request.head;
                    outcome.requests.push(SeenRequest {
                        line: format!(
                            "{} {} {}",
                            latin1_text(head.method().of(bytes)),
                            latin1_text(head.target().of(bytes)),
                            head.version().as_str()
                        ),
                        message: Message {
                            fields: head_fields(head.fields().iter(), bytes),
                            // A body that came whole with the head.
                            body: request
                                .complete_body
                                .as_ref()
                                .map_or_else(Vec::new, |whole| whole.to_vec()),
                            ..Message::default()
                        },
                        keep_alive: request.keep_alive,
                        expects_continue: request.expects_continue,
                        upgrade: request.upgrade,
                        framing: match request.body {
                            BodyFraming::Length(n) => format!("length {n}"),
                            BodyFraming::Chunked => "chunked".to_owned(),
                            _ => "none".to_owned(),
                        },
                        // Complete with its head: no `End` follows.
                        ended: request.complete_body.is_some()
                            || request.body == BodyFraming::Empty,
                        ..SeenRequest::default()
                    });
                    ids.push(request.id);
                    owed.push_back(ids.len() - 1);
                    wanted.push(request.id);
                }
                ServerEvent::Data { id, data } => {
                    let n = ids.iter().position(|&i| i == id).expect("known request");
                    outcome.requests[n].message.body.extend_from_slice(&data);
                }
                ServerEvent::End { id, trailers } => {
                    let n = ids.iter().position(|&i| i == id).expect("known request");
                    outcome.requests[n].message.trailers = trailer_lines(&trailers);
                    outcome.requests[n].ended = true;
                }
                ServerEvent::BodyFailed { id, .. } => {
                    let n = ids.iter().position(|&i| i == id).expect("known request");
                    outcome.requests[n].body_failed = true;
                }
                // The connection stopped reading it: it stays incomplete.
                ServerEvent::BodyAbandoned { .. } => {}
                ServerEvent::Rejected(error) => outcome.rejected = Some(error.status()),
            }
        }
        // The application reads every body it is given.
        for id in wanted {
            server.body_wanted(id);
        }
        while let Some(&front) = owed.front() {
            let id = ids[front];
            let request = &outcome.requests[front];
            if request.body_failed {
                // The library answers it (or closes): nothing to do.
            } else if request.ended {
                // A request the connection no longer answers refuses it.
                if server
                    .start_response(id, 200, &HeaderMap::new(), BodySize::Exact(0), now)
                    .is_ok()
                {
                    server
                        .finish_response(id, None, now)
                        .expect("an empty body ends");
                }
            } else {
                break;
            }
            owed.pop_front();
            progressed = true;
        }
        let before = written.len();
        support::drain(server, written);
        progressed |= written.len() > before;
        if !progressed {
            return;
        }
    }
}

const SERVER_KEYWORDS: &[&str] = &[
    "request",
    "field",
    "fields",
    "body",
    "trailer",
    "close",
    "continue",
    "upgrade",
    "framing",
    "incomplete",
    "body-error",
    "reject",
    "responses",
    "open",
    "closed",
];

fn check_server(case: &Case, sizes: &[usize]) -> Result<(), String> {
    let outcome = run_server(case, sizes);
    let requests = blocks(
        &case.expect,
        &["request", "reject", "responses", "open", "closed"],
    );
    let requests: Vec<_> = requests
        .into_iter()
        .filter(|b| b[0].0 == "request")
        .collect();
    if requests.len() != outcome.requests.len() {
        return Err(format!(
            "the application saw {} requests, expected {}: {:?}",
            outcome.requests.len(),
            requests.len(),
            outcome.requests.iter().map(|r| &r.line).collect::<Vec<_>>()
        ));
    }
    for (n, (lines, seen)) in requests.iter().zip(&outcome.requests).enumerate() {
        let context = |why: String| format!("request {n} ({}): {why}", seen.line);
        if seen.line != lines[0].1 {
            return Err(context(format!("expected `{}`", lines[0].1)));
        }
        seen.message.check(lines, &case.origin).map_err(context)?;
        let flags = [
            ("close", !seen.keep_alive),
            ("continue", seen.expects_continue),
            ("upgrade", seen.upgrade),
            ("body-error", seen.body_failed),
            ("incomplete", !seen.ended && !seen.body_failed),
        ];
        for (keyword, actual) in flags {
            if flag(lines, keyword) != actual {
                return Err(context(format!("`{keyword}` is {actual}")));
            }
        }
        if let Some(framing) = value(lines, "framing") {
            if framing != seen.framing {
                return Err(context(format!(
                    "framing {}, expected {framing}",
                    seen.framing
                )));
            }
        }
    }
    let expected_reject = value(&case.expect, "reject").map(|s| s.parse::<u16>().unwrap());
    if outcome.rejected != expected_reject {
        return Err(format!(
            "rejected with {:?}, expected {expected_reject:?}",
            outcome.rejected
        ));
    }
    // What reaches the wire: a final response per request the application
    // answered, then the library's own answer, if any, last.
    let finals: Vec<u16> = outcome
        .responses
        .iter()
        .copied()
        .filter(|s| *s >= 200)
        .collect();
    if let Some(status) = expected_reject {
        if finals.last() != Some(&status) {
            return Err(format!(
                "the rejection is not the last response: {finals:?}"
            ));
        }
    }
    if let Some(listed) = value(&case.expect, "responses") {
        if !statuses_match(listed, &outcome.responses) {
            return Err(format!(
                "responses {:?} written, expected {listed}",
                outcome.responses
            ));
        }
    }
    final_state(case, outcome.open)
}

/// Whether `written` is the `responses` line `listed`: its statuses in
/// order, where one marked `S?` may be missing.
fn statuses_match(listed: &str, written: &[u16]) -> bool {
    let mut written = written.iter().peekable();
    for token in listed.split_whitespace() {
        let (status, optional) = match token.strip_suffix('?') {
            Some(status) => (status, true),
            None => (token, false),
        };
        let status: u16 = status.parse().expect("a status in `responses`");
        if written.peek() == Some(&&status) {
            written.next();
        } else if !optional {
            return false;
        }
    }
    written.next().is_none()
}

#[test]
fn request_corpus() {
    for file in case_files("requests") {
        for case in parse_cases(&file) {
            check_keywords(&case, SERVER_KEYWORDS);
            assert!(
                case.sends.is_empty(),
                "{}: `send` is for responses",
                case.origin
            );
        }
    }
    run_corpus("requests", 150, check_server);
}

// ---------------------------------------------------------------------------
// The client side
// ---------------------------------------------------------------------------

/// What became of one request sent.
#[derive(Debug, Default)]
struct SeenExchange {
    /// `STATUS VERSION REASON`, once the final head arrived.
    head: Option<String>,
    interim: Vec<u16>,
    message: Message,
    ended: bool,
    upgraded: Option<Vec<u8>>,
    error: Option<String>,
}

#[derive(Debug, Default)]
struct ClientOutcome {
    exchanges: Vec<SeenExchange>,
    failure: Option<String>,
    open: bool,
}

fn run_client(case: &Case, sizes: &[usize]) -> ClientOutcome {
    let mut client = Client::new(
        ClientConfig {
            limits: case.settings.limits,
            chunked: case.settings.chunked,
            ..ClientConfig::default()
        },
        Instant::now(),
    );
    let mut ids = Vec::new();
    for send in &case.sends {
        let mut fields: Vec<(&str, &str)> = vec![("Host", "example.com")];
        if send.upgrade {
            fields.extend([("Upgrade", "websocket"), ("Connection", "upgrade")]);
        }
        let id = client
            .send_request(
                &send.method,
                &send.target,
                send.version,
                &fields,
                BodySize::Empty,
                Instant::now(),
            )
            .unwrap_or_else(|e| panic!("{}: cannot send {send:?}: {e}", case.origin));
        ids.push(id);
    }
    client.write_buf().clear();
    let mut outcome = ClientOutcome {
        exchanges: ids.iter().map(|_| SeenExchange::default()).collect(),
        ..ClientOutcome::default()
    };
    for piece in pieces(&case.input, sizes) {
        // Once handed over, the bytes are the new protocol's: the caller
        // reads them from the transport, after the leftover.
        if let Some(upgraded) = outcome
            .exchanges
            .iter_mut()
            .find_map(|e| e.upgraded.as_mut())
        {
            upgraded.extend_from_slice(piece);
            continue;
        }
        client.read_buf().extend_from_slice(piece);
        pump_client(&mut client, &ids, &mut outcome);
    }
    if case.eof {
        client.received_eof();
        pump_client(&mut client, &ids, &mut outcome);
    }
    outcome.open = client.can_send() && !client.is_done();
    outcome
}

fn exchange<'o>(
    outcome: &'o mut ClientOutcome,
    ids: &[ExchangeId],
    id: ExchangeId,
) -> &'o mut SeenExchange {
    let n = ids
        .iter()
        .position(|&i| i == id)
        .expect("a request we sent");
    &mut outcome.exchanges[n]
}

fn response_line(response: &gruvi_conn::proto::Response<'_>) -> (String, Vec<String>) {
    let head = response.head;
    let bytes = &response.bytes;
    let line = format!(
        "{} {} {}",
        head.status(),
        head.version().as_str(),
        latin1_text(head.reason().of(bytes))
    );
    (
        line.trim_end().to_owned(),
        head_fields(head.fields().iter(), bytes),
    )
}

fn pump_client(client: &mut Client, ids: &[ExchangeId], outcome: &mut ClientOutcome) {
    while let Some(event) = client.poll_event(Instant::now()) {
        match event {
            ClientEvent::Interim { id, status } => {
                exchange(outcome, ids, id).interim.push(status);
            }
            ClientEvent::Response(response) => {
                let (line, fields) = response_line(&response);
                let seen = exchange(outcome, ids, response.id);
                seen.head = Some(line);
                seen.message.fields = fields;
                // Its whole body came with it: data, then the end.
                if let Some(whole) = response.complete_body {
                    seen.message.body.extend_from_slice(&whole);
                    seen.ended = true;
                }
            }
            ClientEvent::Data { id, data } => {
                exchange(outcome, ids, id)
                    .message
                    .body
                    .extend_from_slice(&data);
            }
            ClientEvent::End { id, trailers } => {
                let seen = exchange(outcome, ids, id);
                seen.message.trailers = trailer_lines(&trailers);
                seen.ended = true;
            }
            ClientEvent::Upgraded { response, leftover } => {
                let (line, fields) = response_line(&response);
                let seen = exchange(outcome, ids, response.id);
                seen.head = Some(line);
                seen.message.fields = fields;
                seen.upgraded = Some(leftover.to_vec());
            }
            ClientEvent::Failed { waiting, error } => {
                let text = error.to_string();
                for id in waiting {
                    exchange(outcome, ids, id).error = Some(text.clone());
                }
                outcome.failure = Some(text);
            }
        }
    }
}

const CLIENT_KEYWORDS: &[&str] = &[
    "response",
    "unanswered",
    "interim",
    "field",
    "fields",
    "body",
    "trailer",
    "incomplete",
    "upgraded",
    "error",
    "failed",
    "open",
    "closed",
];

fn check_client(case: &Case, sizes: &[usize]) -> Result<(), String> {
    let outcome = run_client(case, sizes);
    let exchanges: Vec<_> = blocks(
        &case.expect,
        &["response", "unanswered", "failed", "open", "closed"],
    )
    .into_iter()
    .filter(|b| matches!(b[0].0.as_str(), "response" | "unanswered"))
    .collect();
    if exchanges.len() != outcome.exchanges.len() {
        return Err(format!(
            "{} requests sent, {} described",
            outcome.exchanges.len(),
            exchanges.len()
        ));
    }
    for (n, (lines, seen)) in exchanges.iter().zip(&outcome.exchanges).enumerate() {
        let context = |why: String| format!("exchange {n} ({}): {why}", case.sends[n].target);
        let expected_head = (lines[0].0 == "response").then(|| lines[0].1.clone());
        if seen.head != expected_head {
            return Err(context(format!(
                "response {:?}, expected {expected_head:?}",
                seen.head
            )));
        }
        seen.message.check(lines, &case.origin).map_err(context)?;
        let interim: Vec<u16> = lines
            .iter()
            .filter(|(k, _)| k == "interim")
            .map(|(_, rest)| rest.parse().unwrap())
            .collect();
        if seen.interim != interim {
            return Err(context(format!(
                "interim {:?}, expected {interim:?}",
                seen.interim
            )));
        }
        let upgraded = value(lines, "upgraded").map(|rest| unescape(rest, &case.origin));
        if seen.upgraded != upgraded {
            return Err(context(format!(
                "upgraded {:?}, expected {upgraded:?}",
                seen.upgraded
            )));
        }
        let ended = seen.ended || seen.upgraded.is_some();
        if flag(lines, "incomplete") == ended && expected_head.is_some() {
            return Err(context(format!("the body ended: {ended}")));
        }
        match (value(lines, "error"), &seen.error) {
            (None, None) => {}
            (Some(wanted), Some(error)) if error.contains(wanted) => {}
            (wanted, error) => {
                return Err(context(format!("error {error:?}, expected {wanted:?}")));
            }
        }
    }
    match (value(&case.expect, "failed"), &outcome.failure) {
        (None, None) => {}
        (Some(wanted), Some(error)) if error.contains(wanted) => {}
        (wanted, error) => {
            return Err(format!(
                "the connection failed with {error:?}, expected {wanted:?}"
            ));
        }
    }
    final_state(case, outcome.open)
}

#[test]
fn response_corpus() {
    for file in case_files("responses") {
        for case in parse_cases(&file) {
            check_keywords(&case, CLIENT_KEYWORDS);
        }
    }
    run_corpus("responses", 40, check_client);
}
