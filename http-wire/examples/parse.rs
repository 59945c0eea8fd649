//! Parses HTTP/1.x heads and prints what the parser saw: the start line, the
//! fields in received order, the body framing and the keep-alive decision.
//!
//! ```text
//! cargo run -p gruvi-wire --example parse            # a built-in tour
//! printf 'GET / HTTP/1.1\r\nHost: a\r\n\r\n' | cargo run -p gruvi-wire --example parse -- -
//! ```

use std::io::Read;

use gruvi_wire::{
    Limits, Status, parse_request, parse_response, request_framing, response_framing,
    wants_keep_alive,
};

const TOUR: &[(&str, &[u8])] = &[
    ("a GET with the next pipelined request behind it", b"GET /hello?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: demo\r\n\r\nGET /next HTTP/1.1\r\n"),
    ("a chunked upload", b"POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"),
    ("an HTTP/1.0 keep-alive request", b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
    ("a smuggling attempt (CL + TE)", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"),
    ("whitespace before the colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
    ("a request still arriving", b"GET / HTTP/1.1\r\nHost: exa"),
    ("a response with a folded field", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Folded: one\r\n two\r\n\r\nhi"),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("-h" | "--help") => {
            println!(
                "usage: parse [-]\n  without arguments: a tour of heads\n  -: parse one head from standard input"
            );
        }
        Some("-") => {
            let mut input = Vec::new();
            if let Err(e) = std::io::stdin().read_to_end(&mut input) {
                eprintln!("error: cannot read standard input: {e}");
                std::process::exit(1);
            }
            show(&input);
        }
        Some(other) => {
            eprintln!("error: unknown argument {other:?} (try --help)");
            std::process::exit(2);
        }
        None => {
            for (title, input) in TOUR {
                println!("== {title}");
                show(input);
                println!();
            }
        }
    }
}

fn text(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn show(buf: &[u8]) {
    let limits = Limits::default();
    if buf.starts_with(b"HTTP/") {
        match parse_response(buf, &limits) {
            Ok(Status::Complete(head, consumed)) => {
                println!(
                    "response {} {:?} {}",
                    head.version().as_str(),
                    head.status(),
                    text(head.reason().of(buf))
                );
                for field in head.fields() {
                    println!("  {}: {}", text(field.name(buf)), text(&field.value(buf)));
                }
                println!(
                    "  head: {consumed} bytes; body framing for GET: {:?}",
                    response_framing(b"GET", &head, buf)
                );
            }
            Ok(Status::Partial) => println!("partial: the head has not ended yet"),
            Err(e) => println!("rejected: {e} (a client reports this as an error)"),
        }
        return;
    }
    match parse_request(buf, &limits) {
        Ok(Status::Complete(head, consumed)) => {
            println!(
                "request {} {} {}",
                text(head.method().of(buf)),
                text(head.target().of(buf)),
                head.version().as_str()
            );
            for field in head.fields() {
                println!("  {}: {}", text(field.name(buf)), text(&field.value(buf)));
            }
            println!(
                "  head: {consumed} bytes, {} left in the buffer",
                buf.len() - consumed
            );
            match request_framing(&head, buf) {
                Ok(framing) => {
                    println!("  body: {:?}", framing.body);
                    println!(
                        "  keep-alive: {}",
                        wants_keep_alive(head.version(), head.fields(), buf)
                    );
                }
                Err(e) => println!("  refused: {e} -> answer {} and close", e.status()),
            }
        }
        Ok(Status::Partial) => println!("partial: the head has not ended yet"),
        Err(e) => println!("rejected: {e} -> answer {} and close", e.status()),
    }
}
